//! `nova`: a native command-line client for the Compute API that reads the
//! same configuration, takes the same commands and prints the same tables as
//! python-novaclient.

mod cli;
mod clouds;
mod commands;
mod find;
mod session;
mod table;

use clap::Parser;

use cli::Cli;
use session::Session;

fn main() {
    let mut cli = Cli::parse();
    if let Err(e) = clouds::apply(&mut cli.global) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ERROR (ClientException): {e}");
            std::process::exit(1);
        }
    };
    let timings = cli.global.timings;
    let outcome = runtime.block_on(async {
        let mut session = Session::open(&cli.global).await?;
        let result = commands::run(&mut session, cli.command).await;
        if timings {
            print_timings(&session.timings);
        }
        result
    });
    if let Err(e) = outcome {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// `--timings`: each request and the total, as python-novaclient lists them.
fn print_timings(timings: &[(String, f64)]) {
    let mut t = table::Table::new(&["url", "seconds"]);
    let mut total = 0.0;
    for (url, secs) in timings {
        t.push(vec![url.clone(), format!("{secs}")]);
        total += secs;
    }
    t.push(vec!["Total".into(), format!("{total}")]);
    t.print();
}

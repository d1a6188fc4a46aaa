//! `demo-server`: prints `listening on http://127.0.0.1:PORT` once bound, then serves.

use std::io::Write;
use std::process::ExitCode;

use demo_server::cli::{self, Command, USAGE};
use demo_server::{Server, StartError};

#[tokio::main]
async fn main() -> ExitCode {
    match start().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(StartError::Usage(message)) => {
            eprintln!("{message}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("demo-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> Result<(), StartError> {
    let config = match cli::parse(std::env::args().skip(1))? {
        Command::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Command::Serve(config) => config,
    };
    let config = match config.db {
        Some(_) => config,
        None => cli::Config {
            db: std::env::var_os("DATABASE_URL").map(Into::into),
            ..config
        },
    };
    let server = Server::bind(config).await?;
    let addr = server.local_addr().map_err(StartError::Bind)?;
    // Tests read this line to learn the port, so it must leave the buffer now.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{addr}")
        .and_then(|()| stdout.flush())
        .map_err(StartError::Announce)?;
    server.run().await;
    Ok(())
}

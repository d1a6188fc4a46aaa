//! The listener and accept loop. Each connection is served by hyper in its own task, next to
//! a [`DropSwitch`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};

use offline_sync_server::{PgStore, SqliteStore};
use rusqlite::Connection;

use crate::cli::Config;
use crate::error::StartError;
use crate::hooks::TestHooks;
use crate::routes;
use crate::rows::{Backend, Rows};
use crate::schema;
use crate::state::{App, Database};
use crate::switch::DropSwitch;

pub struct Server {
    listener: TcpListener,
    router: Router,
}

impl Server {
    /// Opens the database (or connects to it) and binds 127.0.0.1 (never other interfaces).
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let db = open(config.db.as_deref()).await?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .map_err(StartError::Bind)?;
        let app = App {
            db,
            hooks: TestHooks::default(),
            test_hooks: config.test_hooks,
            allowed_origins: config.allowed_origins,
            static_dirs: config.static_dirs,
            static_headers: config.static_headers,
        };
        let router = routes::router(Arc::new(app));
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends.
    pub async fn run(self) {
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, self.router.clone()));
                }
                Err(e) => {
                    // Usually running out of file descriptors: wait instead of spinning.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// PostgreSQL for a `postgres://` URL, otherwise the SQLite file (or an in-memory one),
/// upgraded to this server's schema.
async fn open(db: Option<&Path>) -> Result<Database, StartError> {
    let url = db
        .and_then(Path::to_str)
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"));
    if let Some(url) = url {
        let store = PgStore::connect(url)
            .await
            .map_err(|e| StartError::Database(e.to_string()))?;
        let mut reader = store
            .reader()
            .await
            .map_err(|e| StartError::Database(e.to_string()))?;
        PgStore::reader_rows(&mut reader)
            .batch(&schema::postgres())
            .await
            .map_err(|e| StartError::Database(e.to_string()))?;
        return Ok(Database::Postgres(store));
    }
    let sqlite = || -> rusqlite::Result<SqliteStore> {
        let mut conn = match db {
            Some(path) => Connection::open(path)?,
            None => Connection::open_in_memory()?,
        };
        schema::upgrade(&mut conn)?;
        SqliteStore::new(conn)
    };
    sqlite()
        .map(Database::Sqlite)
        .map_err(|e| StartError::Database(e.to_string()))
}

async fn serve_connection(stream: TcpStream, router: Router) {
    let switch = DropSwitch::default();
    let tower = TowerToHyperService::new(router);
    let handed_out = switch.clone();
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(handed_out.clone());
        tower.call(request)
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        // Connection errors (a client hanging up mid-request) are the client's business.
        _ = connection => {}
        // Returning drops `connection`, and with it the socket and the in-flight request.
        () = switch.0.notified() => {}
    }
}

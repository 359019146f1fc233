//! Binding a port and serving an application on it until told to stop.
//! Binding comes first and on its own, because the URL is known only then
//! (a port of 0 is any free one) and a part of the application may need
//! it: `retrain up` serves models resolved through its own registry.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound (in use, not this machine's, …).
    #[error("cannot listen on {address}")]
    Bind {
        /// `HOST:PORT` as given.
        address: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The bound socket did not tell its address.
    #[error("cannot read the listening address")]
    LocalAddress(#[source] io::Error),
    /// Accepting or answering connections failed.
    #[error("the server failed")]
    Serve(#[source] io::Error),
}

/// A bound port, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    url: String,
}

impl Server {
    /// Binds `host:port` (port 0: any free port).
    pub async fn bind(host: &str, port: u16) -> Result<Server, ServeError> {
        let address = format!("{host}:{port}");
        let listener =
            TcpListener::bind(&address).await.map_err(|source| ServeError::Bind { address, source })?;
        let local = listener.local_addr().map_err(ServeError::LocalAddress)?;
        // A wildcard address is shown as the loopback one, which local
        // clients can use.
        let host = if local.ip().is_unspecified() { "127.0.0.1".to_owned() } else { local.ip().to_string() };
        Ok(Server { listener, url: format!("http://{host}:{}", local.port()) })
    }

    /// `http://HOST:PORT` of the bound port.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves `app` until `shutdown` resolves, then finishes the requests
    /// in flight.
    pub async fn serve(
        self,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        // Each request knows its client's address (failed sign-ins are
        // counted per address).
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await.map_err(ServeError::Serve)
    }

    /// [`Server::serve`] in a background task; a failure is logged.
    pub fn spawn(self, app: Router, shutdown: impl Future<Output = ()> + Send + 'static) -> RunningServer {
        let url = self.url.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = self.serve(app, shutdown).await {
                tracing::error!("{}", retrain_ml::error_chain(&e));
            }
        });
        RunningServer { url, task }
    }
}

/// A server serving in the background.
#[derive(Debug)]
pub struct RunningServer {
    url: String,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// `http://HOST:PORT` of the server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits until the server has stopped (after its shutdown signal).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

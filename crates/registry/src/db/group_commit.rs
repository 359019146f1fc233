//! Group commit: requests queue to one writer task, which commits
//! whatever has gathered in one transaction and answers each request with
//! its own outcome. While one group commits, the next gathers, so
//! concurrent writers share a commit (and its write-ahead-log pages)
//! instead of taking turns.

use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use super::{WriteTx, Writer};
use crate::error::{Result, StoreError};

/// A group stops taking requests once it holds this much (a request is
/// never split: at most this plus one request's size).
const GROUP_LIMIT: usize = 2000;

/// A request that can be committed with others.
pub(crate) trait Grouped: Sized + Send + Sync + 'static {
    /// How much of a group's [`GROUP_LIMIT`] this request takes.
    fn size(&self) -> usize;

    /// Writes a whole group in `tx` and says for each request whether its
    /// part landed; an error fails every request of the group.
    fn write_group(tx: &mut WriteTx, group: &[Self]) -> impl Future<Output = Result<Vec<Result<()>>>> + Send;
}

/// A request and where its outcome goes.
type Pending<R> = (R, oneshot::Sender<Result<()>>);

/// The queue of one kind of grouped request, and its writer task
/// (started on the first request, in the runtime that makes it).
#[derive(Debug)]
pub(crate) struct GroupCommit<R> {
    queue: OnceLock<mpsc::UnboundedSender<Pending<R>>>,
}

impl<R> Default for GroupCommit<R> {
    fn default() -> Self {
        GroupCommit { queue: OnceLock::new() }
    }
}

impl<R: Grouped> GroupCommit<R> {
    /// Queues `request` for the next group commit and waits for its outcome.
    pub(crate) async fn submit(&self, writer: &Writer, request: R) -> Result<()> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(commit_groups(writer.clone(), receiver));
            sender
        });
        let (done, outcome) = oneshot::channel();
        let stopped = || StoreError::internal("the group writer has stopped");
        queue.send((request, done)).map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

async fn commit_groups<R: Grouped>(writer: Writer, mut queue: mpsc::UnboundedReceiver<Pending<R>>) {
    while let Some(first) = queue.recv().await {
        let mut size = first.0.size();
        let (mut group, mut answers) = (vec![first.0], vec![first.1]);
        while size < GROUP_LIMIT {
            let Ok((next, done)) = queue.try_recv() else { break };
            size += next.size();
            group.push(next);
            answers.push(done);
        }
        // What is left to fail is the database's, not one request's part,
        // so every request in the group shares it: retrying them one by
        // one would only repeat it, a busy timeout included.
        let outcomes = match commit_group(&writer, &group).await {
            Ok(outcomes) => outcomes,
            Err(error) => vec![Err(error); group.len()],
        };
        for (done, outcome) in answers.into_iter().zip(outcomes) {
            let _ = done.send(outcome);
        }
    }
}

async fn commit_group<R: Grouped>(writer: &Writer, group: &[R]) -> Result<Vec<Result<()>>> {
    let mut tx = writer.begin().await?;
    let outcomes = R::write_group(&mut tx, group).await?;
    tx.commit().await?;
    Ok(outcomes)
}

//! Message framing on a stream: a big-endian u32 length, then a postcard body. Every decode
//! failure is an error naming what was wrong; nothing here panics on bad input.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest message accepted (a snapshot of the simulated database fits well inside).
pub(crate) const MAX_MESSAGE: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("connection closed by peer")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("message of {len} bytes exceeds the {MAX_MESSAGE}-byte limit")]
    TooLarge { len: usize },
    #[error("malformed message: {0}")]
    Malformed(#[from] postcard::Error),
}

/// Writes one message.
pub async fn send<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, msg: &T) -> Result<(), WireError> {
    let body = postcard::to_stdvec(msg)?;
    if body.len() > MAX_MESSAGE {
        return Err(WireError::TooLarge { len: body.len() });
    }
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one message; a clean end of stream before a header is [`WireError::Closed`].
pub async fn recv<R: AsyncRead + Unpin, T: DeserializeOwned>(r: &mut R) -> Result<T, WireError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(WireError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_MESSAGE {
        return Err(WireError::TooLarge { len });
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(postcard::from_bytes(&body)?)
}

/// Opens a stream with `connect`, sends `request` and reads one reply, all within `limit`; any
/// failure is described in words.
pub async fn exchange<S, Q, R>(
    peer: &str,
    connect: impl Future<Output = std::io::Result<S>>,
    request: &Q,
    limit: std::time::Duration,
) -> Result<R, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
    Q: Serialize,
    R: DeserializeOwned,
{
    let exchange = async {
        let mut stream = connect.await.map_err(|e| e.to_string())?;
        send(&mut stream, request).await.map_err(|e| e.to_string())?;
        recv(&mut stream).await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer from {peer} within {limit:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_bad_input() {
        let mut buf = Vec::new();
        send(&mut buf, &("hello".to_string(), 7u64)).await.unwrap();
        let got: (String, u64) = recv(&mut &buf[..]).await.unwrap();
        assert_eq!(got, ("hello".to_string(), 7));

        let huge = (u32::MAX).to_be_bytes();
        let err = recv::<_, u64>(&mut &huge[..]).await.unwrap_err();
        assert!(matches!(err, WireError::TooLarge { .. }), "{err}");

        let garbage = [0, 0, 0, 1, 0xff];
        let err = recv::<_, String>(&mut &garbage[..]).await.unwrap_err();
        assert!(matches!(err, WireError::Malformed(_)), "{err}");

        let err = recv::<_, u64>(&mut &[][..]).await.unwrap_err();
        assert!(matches!(err, WireError::Closed), "{err}");
    }
}

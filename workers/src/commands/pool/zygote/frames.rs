//! The frames a `--spawn fork` pool and its fork server exchange, little-endian: to the
//! fork server `R id:u64 len:u32 job` (run a job) and `S id:u64 signal:i32`; from it
//! `P id:u64 pid:i32` (started) and `F id:u64 status:i32 len:u32 outcome` (finished: what
//! the process wrote, with status 0 when it reported in full and is exiting, or its `waitpid`
//! status when it died first), at most [`MAX_FRAME`] bytes of body.

/// The largest job message and outcome a frame carries; more is a broken peer.
pub const MAX_FRAME: usize = 64 << 20;

/// A request to the fork server.
#[derive(Debug, PartialEq)]
pub enum Request {
    Run { id: u64, job: Vec<u8> },
    Signal { id: u64, signal: i32 },
}

/// An event from the fork server.
#[derive(Debug, PartialEq)]
pub enum Event {
    Started {
        id: u64,
        pid: i32,
    },
    /// `outcome` is what the process wrote; `status` is 0 when it reported in full (the job
    /// is over; the process is exiting), else `waitpid`'s once it has been reaped.
    Finished {
        id: u64,
        status: i32,
        outcome: Vec<u8>,
    },
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Run { id, job } => frame(b'R', *id, &[], Some(job)),
            Request::Signal { id, signal } => frame(b'S', *id, &signal.to_le_bytes(), None),
        }
    }
}

impl Event {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Event::Started { id, pid } => frame(b'P', *id, &pid.to_le_bytes(), None),
            Event::Finished {
                id,
                status,
                outcome,
            } => frame(b'F', *id, &status.to_le_bytes(), Some(outcome)),
        }
    }

    /// Reads one event; `None` at a clean end of the stream.
    pub async fn read<R: tokio::io::AsyncRead + Unpin>(
        r: &mut R,
    ) -> std::io::Result<Option<Event>> {
        use tokio::io::AsyncReadExt;
        let mut head = [0u8; 13];
        match r.read_exact(&mut head).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let id = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
        let word = i32::from_le_bytes(head[9..13].try_into().expect("4 bytes"));
        match head[0] {
            b'P' => Ok(Some(Event::Started { id, pid: word })),
            b'F' => {
                let mut len = [0u8; 4];
                r.read_exact(&mut len).await?;
                let len = u32::from_le_bytes(len) as usize;
                if len > MAX_FRAME {
                    return Err(bad(format!("a {len}-byte outcome")));
                }
                let mut outcome = vec![0; len];
                r.read_exact(&mut outcome).await?;
                Ok(Some(Event::Finished {
                    id,
                    status: word,
                    outcome,
                }))
            }
            k => Err(bad(format!("an event of kind {k}"))),
        }
    }
}

/// `kind id:u64 word [len:u32 body]`; a request to run has no word.
fn frame(kind: u8, id: u64, word: &[u8], body: Option<&[u8]>) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&id.to_le_bytes());
    f.extend_from_slice(word);
    if let Some(b) = body {
        f.extend_from_slice(&(b.len() as u32).to_le_bytes());
        f.extend_from_slice(b);
    }
    f
}

fn bad(what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("fork server protocol: {what}"),
    )
}

/// Takes one complete request off the front of `buf`, if there is one.
pub fn take_request(buf: &mut Vec<u8>) -> std::io::Result<Option<Request>> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let need_head = match kind {
        b'R' => 13,
        b'S' => 13,
        k => return Err(bad(format!("a request of kind {k}"))),
    };
    if buf.len() < need_head {
        return Ok(None);
    }
    let id = u64::from_le_bytes(buf[1..9].try_into().expect("8 bytes"));
    let word: [u8; 4] = buf[9..13].try_into().expect("4 bytes");
    let (request, used) = if kind == b'S' {
        let signal = i32::from_le_bytes(word);
        (Request::Signal { id, signal }, 13)
    } else {
        let len = u32::from_le_bytes(word) as usize;
        if len > MAX_FRAME {
            return Err(bad(format!("a {len}-byte job")));
        }
        if buf.len() < 13 + len {
            return Ok(None);
        }
        let job = buf[13..13 + len].to_vec();
        (Request::Run { id, job }, 13 + len)
    };
    buf.drain(..used);
    Ok(Some(request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_taken_whole_and_only_whole() {
        let run = Request::Run {
            id: 7,
            job: b"{\"x\":1}".to_vec(),
        };
        let sig = Request::Signal { id: 9, signal: 15 };
        let mut bytes = run.encode();
        bytes.extend(sig.encode());
        let mut buf = Vec::new();
        let mut got = Vec::new();
        // One byte at a time, as a pipe may deliver them.
        for b in bytes {
            buf.push(b);
            while let Some(r) = take_request(&mut buf).unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got, vec![run, sig]);
        assert!(buf.is_empty());
        assert!(take_request(&mut vec![b'X', 0, 0]).is_err());
        let mut huge = vec![b'R'];
        huge.extend(1u64.to_le_bytes());
        huge.extend((MAX_FRAME as u32 + 1).to_le_bytes());
        assert!(take_request(&mut huge).is_err());
    }

    #[tokio::test]
    async fn events_read_back_as_written() {
        let events = [
            Event::Started { id: 1, pid: 4242 },
            Event::Finished {
                id: 1,
                status: 9,
                outcome: b"{}".to_vec(),
            },
        ];
        let bytes: Vec<u8> = events.iter().flat_map(Event::encode).collect();
        let mut r = &bytes[..];
        for e in events {
            assert_eq!(Event::read(&mut r).await.unwrap(), Some(e));
        }
        assert_eq!(Event::read(&mut r).await.unwrap(), None);
    }
}

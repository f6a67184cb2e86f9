//! A byte-bounded relay between one session's client and the lab server: a loopback listener
//! and threads that pass bytes both ways, reading the framing of what the server sends (a type
//! byte, then a 4-byte big-endian length that counts itself, then the body) so that no single
//! message, no step and no query's rows can make the runner receive more than its limits. The
//! postgres crate reads every message whole into memory; the relay refuses one before its body
//! passes, by closing the connection.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The largest single message from the server (a notice, a row, an error) the runner receives.
pub const MAX_MESSAGE: u64 = 8 << 20;

/// The most bytes the runner receives from the server in one step (`Session::run`/`execute`).
pub const MAX_STEP_BYTES: u64 = 64 << 20;

/// Why the relay closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excess {
    /// One message was larger than `MAX_MESSAGE`.
    Message,
    /// The step's messages added up to more than `MAX_STEP_BYTES`.
    Bytes,
    /// The step returned more rows than it may.
    Rows,
}

impl Excess {
    fn code(self) -> u8 {
        match self {
            Excess::Message => 1,
            Excess::Bytes => 2,
            Excess::Rows => 3,
        }
    }

    fn from_code(code: u8) -> Option<Excess> {
        match code {
            1 => Some(Excess::Message),
            2 => Some(Excess::Bytes),
            3 => Some(Excess::Rows),
            _ => None,
        }
    }
}

/// What the server sent in the current step, shared by the session and the relay's threads.
struct Meter {
    bytes: AtomicU64,
    rows: AtomicU64,
    max_rows: AtomicU64,
    /// The first `Excess` met (its code), 0 while there is none.
    refused: AtomicU8,
}

/// A running relay; dropping it closes its listener. A connection through it ends when either
/// side closes it (the client's, dropped before the relay, says goodbye to the server first).
pub struct Relay {
    addr: SocketAddr,
    meter: Arc<Meter>,
    closed: Arc<AtomicBool>,
}

impl Relay {
    /// Listens on a free loopback port and relays every connection to it to `target` (the
    /// session's own, and the cancel requests sent for it).
    pub fn start(target: (String, u16)) -> io::Result<Relay> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let meter = Arc::new(Meter {
            bytes: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            max_rows: AtomicU64::new(u64::MAX),
            refused: AtomicU8::new(0),
        });
        let closed = Arc::new(AtomicBool::new(false));
        let relay = Relay {
            addr,
            meter: Arc::clone(&meter),
            closed: Arc::clone(&closed),
        };
        std::thread::Builder::new()
            .name("labs-relay".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if closed.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(client) = client {
                        let _ = connect(client, &target, &meter);
                    }
                }
            })?;
        Ok(relay)
    }

    /// The address the session's client connects to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts counting a new step, which may receive at most `max_rows` rows.
    pub fn begin_step(&self, max_rows: u64) {
        self.meter.bytes.store(0, Ordering::SeqCst);
        self.meter.rows.store(0, Ordering::SeqCst);
        self.meter.max_rows.store(max_rows, Ordering::SeqCst);
    }

    /// Ends the step: what follows until the next one may bring any number of rows.
    pub fn end_step(&self) {
        self.meter.max_rows.store(u64::MAX, Ordering::SeqCst);
    }

    /// Why the relay closed the connection, if it did.
    pub fn refused(&self) -> Option<Excess> {
        Excess::from_code(self.meter.refused.load(Ordering::SeqCst))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        // Wakes the listener's thread, which sees `closed` and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Connects `client` to `target` and starts the two threads that pass its bytes.
fn connect(client: TcpStream, target: &(String, u16), meter: &Arc<Meter>) -> io::Result<()> {
    let server = TcpStream::connect((target.0.as_str(), target.1))?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_in, server_out) = (client.try_clone()?, server.try_clone()?);
    std::thread::Builder::new()
        .name("labs-relay-up".into())
        .spawn(move || {
            let _ = pass_up(client_in, server_out);
        })?;
    let meter = Arc::clone(meter);
    std::thread::Builder::new()
        .name("labs-relay-down".into())
        .spawn(move || pass_down(server, client, &meter))?;
    Ok(())
}

/// Passes what the client sends to the server as it is; when either side ends, both do.
fn pass_up(mut client: TcpStream, mut server: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    let result = (|| loop {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        server.write_all(&buf[..n])?;
    })();
    let _ = server.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Both);
    result
}

/// Passes what the server sends to the client, message by message as the framing says, until
/// a message would pass a limit: then neither it nor anything after it passes, the reason is
/// noted, and both connections are shut down (the server's backend ends at its next write).
fn pass_down(mut server: TcpStream, mut client: TcpStream, meter: &Meter) {
    let mut buf = vec![0u8; 64 << 10];
    let mut framer = Framer::default();
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Err(excess) = framer.feed(&buf[..n], meter) {
            let _ = meter.refused.compare_exchange(
                0,
                excess.code(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            break;
        }
        if client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

/// Where the relay is in the server's stream of messages.
#[derive(Default)]
struct Framer {
    header: [u8; 5],
    /// Bytes of `header` read so far.
    have: usize,
    /// Bytes of the current message's body still to pass.
    body_left: u64,
}

impl Framer {
    /// Reads `data`, the next bytes from the server, counting every message whose header ends
    /// in it; fails on the first that passes a limit.
    fn feed(&mut self, mut data: &[u8], meter: &Meter) -> Result<(), Excess> {
        while !data.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(data.len() as u64);
                self.body_left -= n;
                data = &data[n as usize..];
                continue;
            }
            let n = (5 - self.have).min(data.len());
            self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have < 5 {
                break;
            }
            self.have = 0;
            let len = u32::from_be_bytes(self.header[1..5].try_into().expect("4 bytes")) as u64;
            if len > MAX_MESSAGE {
                return Err(Excess::Message);
            }
            if meter.bytes.fetch_add(len + 1, Ordering::SeqCst) + len + 1 > MAX_STEP_BYTES {
                return Err(Excess::Bytes);
            }
            if self.header[0] == b'D'
                && meter.rows.fetch_add(1, Ordering::SeqCst) + 1
                    > meter.max_rows.load(Ordering::SeqCst)
            {
                return Err(Excess::Rows);
            }
            self.body_left = len.saturating_sub(4);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(max_rows: u64) -> Meter {
        Meter {
            bytes: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            max_rows: AtomicU64::new(max_rows),
            refused: AtomicU8::new(0),
        }
    }

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn messages_split_anywhere_are_counted_once() {
        let meter = meter(2);
        let mut stream = message(b'D', b"row one");
        stream.extend(message(b'N', b"a notice"));
        stream.extend(message(b'D', b"row two"));
        let mut framer = Framer::default();
        for byte in &stream {
            framer.feed(std::slice::from_ref(byte), &meter).unwrap();
        }
        assert_eq!(meter.rows.load(Ordering::SeqCst), 2);
        assert_eq!(meter.bytes.load(Ordering::SeqCst), stream.len() as u64);
        assert_eq!(
            framer.feed(&message(b'D', b"three"), &meter),
            Err(Excess::Rows)
        );
    }

    #[test]
    fn a_huge_message_is_refused_by_its_header() {
        let meter = meter(u64::MAX);
        let mut header = vec![b'E'];
        header.extend_from_slice(&(200_000_000u32).to_be_bytes());
        assert_eq!(
            Framer::default().feed(&header, &meter),
            Err(Excess::Message)
        );
    }

    #[test]
    fn a_step_is_refused_past_its_bytes() {
        let meter = meter(u64::MAX);
        let notice = message(b'N', &vec![b'x'; (MAX_MESSAGE - 4) as usize]);
        let mut framer = Framer::default();
        for _ in 0..MAX_STEP_BYTES / MAX_MESSAGE - 1 {
            framer.feed(&notice, &meter).unwrap();
        }
        assert_eq!(framer.feed(&notice, &meter), Err(Excess::Bytes));
    }
}

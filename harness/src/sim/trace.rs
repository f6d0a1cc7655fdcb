//! Page-reference traces: the in-memory [`Trace`], its readers and its plain-text writer.
//!
//! # Formats
//!
//! - **plain** ([`Format::Plain`]): one access per line, `PAGE [COLUMN]...`. `PAGE` is a
//!   decimal `u64`; the optional columns, whitespace-separated and in any order after the
//!   page, are at most one of `anon` / `file` (how the page is reached: through page tables,
//!   or through a file descriptor) and at most one of `r` / `w` (read or write). A line
//!   without them is a file page read. Blank lines and lines whose first non-blank character
//!   is `#` are skipped. libCacheSim's plain-text traces (one id per line) are this format.
//! - **lis** ([`Format::Lis`]): the ARC paper's traces (Megiddo and Modha, FAST '03), one
//!   request per line, `START NBLOCKS IGNORE REQ`, four unsigned integers; a line stands for
//!   the `NBLOCKS` file page reads `START, START+1, …, START+NBLOCKS-1`. Blank and `#` lines
//!   are skipped here too.
//!
//! A file whose name ends in `.zst` is decompressed with zstd (pure Rust, `ruzstd`; several
//! concatenated frames are read in turn). Unless the format is given, a name ending in `.lis`
//! or `.lis.zst` is read as lis and any other as plain. A line that does not parse is an error
//! `FILE:LINE: what is wrong`; an unreadable file is an error naming it.
//!
//! # Memory
//!
//! A trace keeps its pages in a `Vec<u64>` and the access types in two bits per access, stored
//! only up to the last access that is not a file read: 8 bytes an access for the ARC traces
//! (P12: 13.2 M accesses in about 106 MB).

use super::{Access, PageSet};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::str::FromStr;

/// A trace file format (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One page (and optional `anon|file`, `r|w` columns) per line.
    Plain,
    /// The ARC paper's `START NBLOCKS IGNORE REQ` lines.
    Lis,
}

impl Format {
    /// The format a file name implies: lis for `*.lis` and `*.lis.zst`, plain otherwise.
    pub fn from_path(path: &Path) -> Format {
        let name = path.to_string_lossy();
        let name = name.strip_suffix(".zst").unwrap_or(&name);
        if name.ends_with(".lis") {
            Format::Lis
        } else {
            Format::Plain
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "plain" | "txt" | "text" => Ok(Format::Plain),
            "lis" | "arc" => Ok(Format::Lis),
            _ => Err(format!("unknown trace format `{s}` (known: plain, lis)")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Plain => "plain",
            Format::Lis => "lis",
        })
    }
}

const ANON: u64 = 1;
const WRITE: u64 = 2;

/// A sequence of page accesses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pages: Vec<u64>,
    /// Two bits per access (bit 0 anon, bit 1 write), 32 accesses a word; words past the end
    /// of this vector are zero (file reads).
    flags: Vec<u64>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Trace::default()
    }

    /// An empty trace with room for `n` accesses.
    pub fn with_capacity(n: usize) -> Self {
        Trace {
            pages: Vec::with_capacity(n),
            flags: Vec::new(),
        }
    }

    /// An empty trace with room for `n` accesses, or an error if that much memory is not
    /// available.
    pub fn try_with_capacity(n: usize) -> Result<Self, String> {
        let mut pages = Vec::new();
        pages
            .try_reserve_exact(n)
            .map_err(|_| format!("no memory for a trace of {n} accesses"))?;
        Ok(Trace {
            pages,
            flags: Vec::new(),
        })
    }

    /// A trace of file page reads of `pages`, in order.
    pub fn from_pages(pages: impl IntoIterator<Item = u64>) -> Self {
        Trace {
            pages: pages.into_iter().collect(),
            flags: Vec::new(),
        }
    }

    /// A trace of `accesses`, in order.
    pub fn from_accesses(accesses: impl IntoIterator<Item = Access>) -> Self {
        let mut t = Trace::new();
        for a in accesses {
            t.push(a);
        }
        t
    }

    /// Appends one access.
    pub fn push(&mut self, a: Access) {
        let i = self.pages.len();
        self.pages.push(a.page);
        let bits = (u64::from(a.anon) * ANON) | (u64::from(a.write) * WRITE);
        if bits != 0 {
            let w = i / 32;
            if self.flags.len() <= w {
                self.flags.resize(w + 1, 0);
            }
            self.flags[w] |= bits << (2 * (i % 32));
        }
    }

    /// The number of accesses.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether the trace has no access.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// The pages, in access order.
    pub fn pages(&self) -> &[u64] {
        &self.pages
    }

    /// The `i`th access; panics if `i >= len()`.
    pub fn get(&self, i: usize) -> Access {
        let bits = self.flags.get(i / 32).map_or(0, |w| w >> (2 * (i % 32)));
        Access {
            page: self.pages[i],
            anon: bits & ANON != 0,
            write: bits & WRITE != 0,
        }
    }

    /// The accesses, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Access> + '_ {
        (0..self.pages.len()).map(move |i| self.get(i))
    }

    /// The number of distinct pages (the footprint).
    pub fn footprint(&self) -> usize {
        let mut seen = PageSet::with_capacity_and_hasher(
            (self.pages.len() / 4).min(1 << 22),
            Default::default(),
        );
        for &p in &self.pages {
            seen.insert(p);
        }
        seen.len()
    }

    /// Counts of (anon, write) accesses.
    pub fn type_counts(&self) -> (usize, usize) {
        let (mut anon, mut write) = (0, 0);
        for w in &self.flags {
            anon += (w & 0x5555_5555_5555_5555).count_ones() as usize;
            write += (w & 0xaaaa_aaaa_aaaa_aaaa).count_ones() as usize;
        }
        (anon, write)
    }

    /// Reads the trace file `path`: zstd-decompressed if its name ends in `.zst`, in `format`
    /// or the one its name implies ([`Format::from_path`]), keeping at most `limit` accesses.
    pub fn read(
        path: &Path,
        format: Option<Format>,
        limit: Option<usize>,
    ) -> Result<Trace, String> {
        let name = path.display().to_string();
        let file =
            std::fs::File::open(path).map_err(|e| format!("cannot open trace {name}: {e}"))?;
        let format = format.unwrap_or_else(|| Format::from_path(path));
        let buffered = BufReader::with_capacity(1 << 16, file);
        if path.to_string_lossy().ends_with(".zst") {
            let z = ZstdReader::new(buffered).map_err(|e| format!("{name}: {e}"))?;
            Trace::parse(BufReader::with_capacity(1 << 16, z), format, &name, limit)
        } else {
            Trace::parse(buffered, format, &name, limit)
        }
    }

    /// Parses a trace in `format` from `input`, keeping at most `limit` accesses; `name`
    /// names the input in errors (`NAME:LINE: ...`).
    pub fn parse(
        mut input: impl BufRead,
        format: Format,
        name: &str,
        limit: Option<usize>,
    ) -> Result<Trace, String> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut t = Trace::new();
        let mut buf = Vec::with_capacity(128);
        let mut lineno = 0usize;
        while t.len() < limit {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .map_err(|e| format!("{name}:{}: read error: {e}", lineno + 1))?;
            if n == 0 {
                break;
            }
            lineno += 1;
            let line = std::str::from_utf8(&buf)
                .map_err(|_| format!("{name}:{lineno}: not UTF-8 text"))?
                .trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let r = match format {
                Format::Plain => parse_plain_line(line).map(|a| t.push(a)),
                Format::Lis => parse_lis_line(line).map(|(start, n)| {
                    let n = n.min((limit - t.len()) as u64);
                    t.pages.extend(start..start + n);
                }),
            };
            r.map_err(|e| format!("{name}:{lineno}: {e}"))?;
        }
        Ok(t)
    }

    /// Writes the trace in the plain format: the page, then `anon` for an anon access and `w`
    /// for a write (a file read is the bare page number).
    pub fn write_plain(&self, w: impl Write) -> io::Result<()> {
        let mut w = io::BufWriter::with_capacity(1 << 16, w);
        for a in self.iter() {
            match (a.anon, a.write) {
                (false, false) => writeln!(w, "{}", a.page)?,
                (true, false) => writeln!(w, "{} anon", a.page)?,
                (false, true) => writeln!(w, "{} w", a.page)?,
                (true, true) => writeln!(w, "{} anon w", a.page)?,
            }
        }
        w.flush()
    }

    /// Writes the trace to the file `path` in the plain format.
    pub fn save_plain(&self, path: &Path) -> Result<(), String> {
        let f = std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        self.write_plain(f)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

fn parse_plain_line(line: &str) -> Result<Access, String> {
    let mut cols = line.split_ascii_whitespace();
    let first = cols.next().unwrap_or("");
    let page = first
        .parse::<u64>()
        .map_err(|_| format!("bad page number `{first}`"))?;
    let (mut kind, mut rw) = (None, None);
    for c in cols {
        let (slot, v) = match c {
            "anon" => (&mut kind, true),
            "file" => (&mut kind, false),
            "w" => (&mut rw, true),
            "r" => (&mut rw, false),
            _ => {
                return Err(format!(
                    "unknown column `{c}` (expected anon, file, r or w)"
                ))
            }
        };
        if slot.replace(v).is_some() {
            return Err(format!(
                "repeated column `{c}` (one of anon|file, one of r|w)"
            ));
        }
    }
    Ok(Access {
        page,
        anon: kind.unwrap_or(false),
        write: rw.unwrap_or(false),
    })
}

fn parse_lis_line(line: &str) -> Result<(u64, u64), String> {
    let cols: Vec<&str> = line.split_ascii_whitespace().collect();
    if cols.len() != 4 {
        return Err(format!(
            "expected 4 columns `START NBLOCKS IGNORE REQ`, found {}",
            cols.len()
        ));
    }
    let mut v = [0u64; 4];
    for (slot, c) in v.iter_mut().zip(&cols) {
        *slot = c
            .parse()
            .map_err(|_| format!("bad number `{c}` (expected `START NBLOCKS IGNORE REQ`)"))?;
    }
    if v[0].checked_add(v[1]).is_none() {
        return Err(format!("block range {} + {} overflows", v[0], v[1]));
    }
    Ok((v[0], v[1]))
}

/// A zstd decompressor over a sequence of concatenated frames.
struct ZstdReader<R: BufRead> {
    dec: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> ZstdReader<R> {
    fn new(r: R) -> Result<Self, String> {
        let dec = ruzstd::decoding::StreamingDecoder::new(r)
            .map_err(|e| format!("not a zstd stream: {e}"))?;
        Ok(ZstdReader { dec: Some(dec) })
    }
}

impl<R: BufRead> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // End of this frame: another one may follow.
            let mut inner = self.dec.take().map(|d| d.into_inner()).expect("decoder");
            if inner.fill_buf()?.is_empty() {
                return Ok(0);
            }
            let next = ruzstd::decoding::StreamingDecoder::new(inner)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            self.dec = Some(next);
        }
    }
}

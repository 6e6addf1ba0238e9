//! MS-TDS bytes for the test server: packets, PRELOGIN, LOGIN7, the client's SQL batch and
//! RPC requests, and the server's token stream. Section numbers are those of [MS-TDS]
//! (https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-tds); the layouts were
//! checked against what tiberius 0.12 writes and reads (its `src/tds/codec/`).

use std::io::{self, Read, Write};

/// 2.2.3.1.1 packet types.
pub const PT_SQL_BATCH: u8 = 0x01;
pub const PT_RPC: u8 = 0x03;
pub const PT_REPLY: u8 = 0x04;
pub const PT_ATTENTION: u8 = 0x06;
pub const PT_LOGIN7: u8 = 0x10;
pub const PT_PRELOGIN: u8 = 0x12;

/// The packet size the server announces (ENVCHANGE 4) and writes with.
pub const PACKET_SIZE: usize = 4096;

// ------------------------------------------------------------------ packets (2.2.3)

/// One message: the packets up to the one with status EOM (0x01), payloads joined. None at
/// a clean end of stream.
pub fn read_message(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut payload = Vec::new();
    let mut ty = None;
    loop {
        // 2.2.3.1: type, status, length (big-endian, with the header), SPID, packet id, window.
        let mut h = [0u8; 8];
        match r.read_exact(&mut h) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && ty.is_none() => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        if len < 8 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "packet length"));
        }
        let start = payload.len();
        payload.resize(start + len - 8, 0);
        r.read_exact(&mut payload[start..])?;
        ty.get_or_insert(h[0]);
        if h[1] & 0x01 != 0 {
            return Ok(Some((ty.unwrap_or(h[0]), payload)));
        }
    }
}

/// A server message (type 4, tabular result) cut into packets of at most PACKET_SIZE.
pub fn write_message(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    write_typed(w, PT_REPLY, payload)
}

/// A message of the given packet type (PRELOGIN carries the TLS handshake, 2.2.6.5).
pub fn write_typed(w: &mut impl Write, ty: u8, payload: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(payload.len() + payload.len() / (PACKET_SIZE - 8) * 8 + 8);
    let mut chunks = payload.chunks(PACKET_SIZE - 8).peekable();
    let mut id = 1u8;
    if payload.is_empty() {
        out.extend_from_slice(&[ty, 0x01, 0, 8, 0, 0, id, 0]);
    }
    while let Some(chunk) = chunks.next() {
        let status = if chunks.peek().is_none() { 0x01 } else { 0x00 };
        out.push(ty);
        out.push(status);
        out.extend_from_slice(&((chunk.len() + 8) as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0, id, 0]);
        out.extend_from_slice(chunk);
        id = id.wrapping_add(1);
    }
    w.write_all(&out)?;
    w.flush()
}

// ------------------------------------------------------------------ PRELOGIN (2.2.6.5)

/// The server's PRELOGIN: VERSION, ENCRYPTION (0x00 ENCRYPT_OFF: TLS for the login only,
/// 0x01 ENCRYPT_ON: all of it, 0x02 ENCRYPT_NOT_SUP: none), MARS off, and FEDAUTHREQUIRED = 1
/// when the client announced a federated (Entra) login. Options are (token, big-endian
/// offset, big-endian length), 0xFF, then the data.
pub fn prelogin_reply(encryption: u8, fed_auth: bool) -> Vec<u8> {
    let enc = [encryption];
    let mut opts: Vec<(u8, &[u8])> = vec![
        (0x00, &[16, 0, 0x10, 0x00, 0, 0]), // VERSION 16.0.4096, sub-build 0
        (0x01, &enc),                       // ENCRYPTION
        (0x04, &[0x00]),                    // MARS: off
    ];
    if fed_auth {
        opts.push((0x06, &[0x01]));
    }
    let mut head = Vec::new();
    let mut data = Vec::new();
    let mut offset = opts.len() * 5 + 1;
    for (token, value) in opts {
        head.push(token);
        head.extend_from_slice(&(offset as u16).to_be_bytes());
        head.extend_from_slice(&(value.len() as u16).to_be_bytes());
        data.extend_from_slice(value);
        offset += value.len();
    }
    head.push(0xFF);
    head.extend(data);
    head
}

/// One option of the client's PRELOGIN (0x01 ENCRYPTION, 0x06 FEDAUTHREQUIRED).
pub fn prelogin_option(payload: &[u8], token: u8) -> Option<u8> {
    let mut i = 0;
    while i + 5 <= payload.len() && payload[i] != 0xFF {
        let off = u16::from_be_bytes([payload[i + 1], payload[i + 2]]) as usize;
        if payload[i] == token {
            return payload.get(off).copied();
        }
        i += 5;
    }
    None
}

// ------------------------------------------------------------------ LOGIN7 (2.2.6.4)

pub struct Login {
    pub user: String,
    pub password: String,
    pub database: String,
    pub app_name: String,
    /// The FEDAUTH feature's security token (an Entra ID access token), when sent.
    pub token: Option<String>,
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// LOGIN7: a 36-byte fixed part, then (offset, length in characters) pairs, from byte 36:
/// HostName, UserName, Password, AppName, ServerName, Extension, CltIntName, Language,
/// Database. The password's bytes have their nibbles swapped and are XORed with 0xA5.
pub fn parse_login7(p: &[u8]) -> Login {
    let field = |i: usize| -> &[u8] {
        let at = 36 + i * 4;
        let off = u16::from_le_bytes([p[at], p[at + 1]]) as usize;
        let chars = u16::from_le_bytes([p[at + 2], p[at + 3]]) as usize;
        &p[off..off + chars * 2]
    };
    let password: Vec<u8> = field(2)
        .iter()
        .map(|b| {
            let x = b ^ 0xA5;
            x.rotate_left(4)
        })
        .collect();
    // fExtension (OptionFlags3 0x10): ibExtension points at a DWORD, the offset of the
    // FeatureExt list: (feature id, DWORD length, data)..., 0xFF. FEDAUTH (0x02) with the
    // security-token library: options byte, DWORD token length, the token in UTF-16LE.
    let mut token = None;
    if p[27] & 0x10 != 0 {
        let ext = u16::from_le_bytes([p[56], p[57]]) as usize;
        let mut i = u32::from_le_bytes(p[ext..ext + 4].try_into().unwrap()) as usize;
        while p[i] != 0xFF {
            let len = u32::from_le_bytes(p[i + 1..i + 5].try_into().unwrap()) as usize;
            let data = &p[i + 5..i + 5 + len];
            if p[i] == 0x02 {
                let n = u32::from_le_bytes(data[1..5].try_into().unwrap()) as usize;
                token = Some(utf16(&data[5..5 + n]));
            }
            i += 5 + len;
        }
    }
    Login {
        token,
        user: utf16(field(1)),
        password: utf16(&password),
        app_name: utf16(field(3)),
        database: utf16(field(8)),
    }
}

// ------------------------------------------------------------------ requests (2.2.6.6, 2.2.6.7)

/// ALL_HEADERS (2.2.5.3): the transaction descriptor header (type 2) is what matters here.
fn all_headers(p: &[u8]) -> ([u8; 8], &[u8]) {
    let total = u32::from_le_bytes(p[0..4].try_into().unwrap()) as usize;
    let mut desc = [0u8; 8];
    let mut i = 4;
    while i < total {
        let len = u32::from_le_bytes(p[i..i + 4].try_into().unwrap()) as usize;
        let ty = u16::from_le_bytes([p[i + 4], p[i + 5]]);
        if ty == 2 {
            desc.copy_from_slice(&p[i + 6..i + 14]);
        }
        i += len;
    }
    (desc, &p[total..])
}

/// SQLBatch: ALL_HEADERS, then the statement text in UTF-16LE.
pub fn parse_batch(p: &[u8]) -> ([u8; 8], String) {
    let (desc, rest) = all_headers(p);
    (desc, utf16(rest))
}

/// A value as the client bound it or the server sends it in a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Bit(bool),
    Float(f64),
    /// The digits; the scale is the column's (or the parameter's, in `Param::scale`).
    Dec(i128),
    /// money and smallmoney in ten-thousandths.
    Money(i64),
    /// Days since 0001-01-01.
    Date(u32),
    /// Increments of 10^-scale s since midnight.
    Time(u64),
    /// Days since 0001-01-01 and increments since midnight.
    DateTime2(u32, u64),
    /// UTC days and increments, and the offset in minutes (2.2.5.5.1.8: the wire holds UTC).
    Dto(u32, u64, i16),
    /// datetime: days since 1900-01-01 and 1/300 s since midnight.
    DateTime(i32, u32),
    Guid(uuid::Uuid),
    Text(String),
    Bytes(Vec<u8>),
}

/// An RPC parameter: its name, TYPE_INFO type byte, scale (for time types and decimals) and
/// value.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub ty: u8,
    pub scale: u8,
    pub val: Val,
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        s
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take(2).try_into().unwrap())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn uint(&mut self, n: usize) -> u64 {
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(self.take(n));
        u64::from_le_bytes(x)
    }
    /// PLP (2.2.5.2.3): total length (or ...FE unknown, ...FF NULL), chunks, a 0 terminator.
    fn plp(&mut self) -> Option<Vec<u8>> {
        let total = self.u64();
        if total == u64::MAX {
            return None;
        }
        let mut out = Vec::new();
        loop {
            let n = self.u32() as usize;
            if n == 0 {
                return Some(out);
            }
            out.extend_from_slice(self.take(n));
        }
    }
}

/// A parameter's TYPE_INFO (2.2.5.6) and value (TYPE_VARBYTE), for the types tiberius binds.
fn parse_param(c: &mut Cur, name: String) -> Param {
    let ty = c.u8();
    let mut scale = 0;
    let val = match ty {
        0x1F => Val::Null, // NULLTYPE
        0x26 | 0x68 | 0x6D | 0x24 => {
            // INTN, BITN, FLTN, GUID: max length, then length-prefixed bytes.
            let _max = c.u8();
            match c.u8() as usize {
                0 => Val::Null,
                n => {
                    let b = c.take(n).to_vec();
                    match ty {
                        0x26 => Val::Int(match n {
                            1 => i64::from(b[0]),
                            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
                            4 => i64::from(i32::from_le_bytes(b[..4].try_into().unwrap())),
                            _ => i64::from_le_bytes(b[..8].try_into().unwrap()),
                        }),
                        0x68 => Val::Bit(b[0] != 0),
                        0x6D if n == 4 => {
                            Val::Float(f64::from(f32::from_le_bytes(b[..4].try_into().unwrap())))
                        }
                        0x6D => Val::Float(f64::from_le_bytes(b[..8].try_into().unwrap())),
                        _ => Val::Guid(guid_from_wire(&b)),
                    }
                }
            }
        }
        0xE7 | 0xA5 => {
            // NVARCHAR / BIGVARBINARY (max): 0xFFFF, collation (nvarchar only), PLP.
            let max = c.u16();
            if ty == 0xE7 {
                c.take(5);
            }
            let data = if max == 0xFFFF {
                c.plp()
            } else {
                match c.u16() {
                    0xFFFF => None,
                    n => Some(c.take(n as usize).to_vec()),
                }
            };
            match (data, ty) {
                (None, _) => Val::Null,
                (Some(b), 0xE7) => Val::Text(utf16(&b)),
                (Some(b), _) => Val::Bytes(b),
            }
        }
        0x6A | 0x6C => {
            // DECIMALN / NUMERICN: length, precision, scale; value: length, sign, magnitude.
            let _len = c.u8();
            let _precision = c.u8();
            scale = c.u8();
            match c.u8() as usize {
                0 => Val::Null,
                n => {
                    let sign = c.u8();
                    let mut m = [0u8; 16];
                    m[..n - 1].copy_from_slice(c.take(n - 1));
                    let v = u128::from_le_bytes(m) as i128;
                    Val::Dec(if sign == 0 { -v } else { v })
                }
            }
        }
        0x28 => match c.u8() {
            // DATEN
            0 => Val::Null,
            _ => Val::Date(c.uint(3) as u32),
        },
        0x29..=0x2B => {
            // TIMEN, DATETIME2N, DATETIMEOFFSETN: scale, then length and bytes.
            scale = c.u8();
            match c.u8() {
                0 => Val::Null,
                _ => {
                    let t = c.uint(time_len(scale));
                    match ty {
                        0x29 => Val::Time(t),
                        0x2A => Val::DateTime2(c.uint(3) as u32, t),
                        _ => {
                            let d = c.uint(3) as u32;
                            Val::Dto(d, t, c.u16() as i16)
                        }
                    }
                }
            }
        }
        0x6F => {
            // DATETIMN
            let _max = c.u8();
            match c.u8() {
                0 => Val::Null,
                _ => {
                    let days = c.u32() as i32;
                    Val::DateTime(days, c.u32())
                }
            }
        }
        other => panic!("test server: parameter type 0x{other:02x} is not decoded here"),
    };
    Param {
        name,
        ty,
        scale,
        val,
    }
}

/// RPCRequest: ALL_HEADERS, ProcIDSwitch 0xFFFF and a well-known procedure id (10 is
/// sp_executesql), option flags, then parameters (B_VARCHAR name, status flags, TYPE_INFO,
/// value).
pub fn parse_rpc(p: &[u8]) -> ([u8; 8], u16, Vec<Param>) {
    let (desc, rest) = all_headers(p);
    let mut c = Cur { b: rest, i: 0 };
    let switch = c.u16();
    assert_eq!(switch, 0xFFFF, "the client names procedures by id");
    let proc_id = c.u16();
    let _flags = c.u16();
    let mut params = Vec::new();
    while c.i < c.b.len() {
        let n = c.u8() as usize;
        let name = utf16(c.take(n * 2));
        let _status = c.u8();
        params.push(parse_param(&mut c, name));
    }
    (desc, proc_id, params)
}

// ------------------------------------------------------------------ tokens (2.2.7)

/// A result column's type, as COLMETADATA's TYPE_INFO declares it (2.2.5.4).
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    /// INT4TYPE (fixed length, NOT NULL).
    Int4,
    /// INTNTYPE with its byte length (1 tinyint, 2 smallint, 4 int, 8 bigint).
    IntN(u8),
    BitN,
    /// DECIMALNTYPE (precision, scale).
    Decimal(u8, u8),
    /// NUMERICNTYPE (precision, scale).
    Numeric(u8, u8),
    /// MONEYNTYPE: 8 money, 4 smallmoney.
    MoneyN(u8),
    /// FLTNTYPE: 4 real, 8 float.
    FloatN(u8),
    Date,
    Time(u8),
    DateTime2(u8),
    Dto(u8),
    /// DATETIMNTYPE, 8 bytes (datetime).
    DateTimeN,
    /// DATETIMNTYPE, 4 bytes (smalldatetime: days since 1900 and minutes, two bytes each).
    SmallDateTimeN,
    Guid,
    /// NVARCHAR(n): n characters.
    NVarChar(u16),
    /// NVARCHAR(MAX), sent as PLP.
    NVarCharMax,
    /// VARCHAR(n) in SQL_Latin1_General_CP1_CI_AS (code page 1252).
    VarChar(u16),
    /// VARCHAR(MAX) and VARBINARY(MAX), sent as PLP.
    VarCharMax,
    VarBinaryMax,
    /// XML without a schema collection: UTF-16 in PLP.
    Xml,
    /// The legacy TEXT (code page 1252), NTEXT (UTF-16) and IMAGE types: text pointers.
    Text,
    NText,
    Image,
    /// NCHAR(n), CHAR(n), BINARY(n): fixed width, padded by the server.
    NChar(u16),
    Char(u16),
    Binary(u16),
    VarBinary(u16),
}

/// SQL_Latin1_General_CP1_CI_AS: LCID 0x0409 with the case/accent/width flags, sort id 52.
const COLLATION: [u8; 5] = [0x09, 0x04, 0xD0, 0x00, 0x34];

/// Bytes of a time part by scale (2.2.5.5.1.8).
fn time_len(scale: u8) -> usize {
    match scale {
        0..=2 => 3,
        3..=4 => 4,
        _ => 5,
    }
}

fn decimal_len(precision: u8) -> u8 {
    match precision {
        1..=9 => 5,
        10..=19 => 9,
        20..=28 => 13,
        _ => 17,
    }
}

/// uniqueidentifier on the wire: the first three groups little-endian.
fn guid_to_wire(u: &uuid::Uuid) -> [u8; 16] {
    let mut b = *u.as_bytes();
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    b
}

fn guid_from_wire(b: &[u8]) -> uuid::Uuid {
    let mut x: [u8; 16] = b.try_into().unwrap();
    x[0..4].reverse();
    x[4..6].reverse();
    x[6..8].reverse();
    uuid::Uuid::from_bytes(x)
}

fn cp1252(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{0}'..='\u{7f}' | '\u{a0}'..='\u{ff}' => c as u8,
            '€' => 0x80,
            _ => b'?',
        })
        .collect()
}

/// A token stream under construction.
#[derive(Default)]
pub struct Tokens(pub Vec<u8>);

/// DONE status bits (2.2.7.6).
pub const DONE_MORE: u16 = 0x01;
pub const DONE_ERROR: u16 = 0x02;
pub const DONE_COUNT: u16 = 0x10;
pub const DONE_ATTN: u16 = 0x20;

impl Tokens {
    fn put_u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// B_VARCHAR: a length in characters (one byte), UTF-16LE.
    fn b_varchar(&mut self, s: &str) {
        let u: Vec<u16> = s.encode_utf16().collect();
        self.0.push(u.len() as u8);
        for c in u {
            self.put_u16(c);
        }
    }
    /// US_VARCHAR: a length in characters (two bytes), UTF-16LE.
    fn us_varchar(&mut self, s: &str) {
        let u: Vec<u16> = s.encode_utf16().collect();
        self.put_u16(u.len() as u16);
        for c in u {
            self.put_u16(c);
        }
    }
    /// A token with a two-byte length: the body is built by `f`.
    fn with_len(&mut self, token: u8, f: impl FnOnce(&mut Tokens)) {
        let mut body = Tokens::default();
        f(&mut body);
        self.0.push(token);
        self.put_u16(body.0.len() as u16);
        self.0.extend(body.0);
    }

    /// LOGINACK (2.2.7.14): interface 1 (T-SQL), TDS version 7.4 (big-endian 0x74000004),
    /// program name and version.
    pub fn login_ack(&mut self) {
        self.with_len(0xAD, |t| {
            t.0.push(1);
            t.0.extend_from_slice(&0x7400_0004u32.to_be_bytes());
            t.b_varchar("Microsoft SQL Server");
            t.0.extend_from_slice(&[16, 0, 0x10, 0x00]);
        });
    }

    /// FEATUREEXTACK (2.2.7.11) for FEDAUTH with the security-token library: no data (no
    /// nonce was sent), then the terminator.
    pub fn feature_ext_ack_fedauth(&mut self) {
        self.0.extend_from_slice(&[0xAE, 0x02, 0, 0, 0, 0, 0xFF]);
    }

    /// ENVCHANGE (2.2.7.9) with B_VARCHAR values: 1 database, 4 packet size.
    pub fn env_change_text(&mut self, ty: u8, new: &str, old: &str) {
        self.with_len(0xE3, |t| {
            t.0.push(ty);
            t.b_varchar(new);
            t.b_varchar(old);
        });
    }

    /// ENVCHANGE with B_VARBYTE values: 8 begin transaction (new = the descriptor), 9 commit
    /// and 10 rollback (old = the descriptor, new empty).
    pub fn env_change_bytes(&mut self, ty: u8, new: &[u8], old: &[u8]) {
        self.with_len(0xE3, |t| {
            t.0.push(ty);
            t.0.push(new.len() as u8);
            t.0.extend_from_slice(new);
            t.0.push(old.len() as u8);
            t.0.extend_from_slice(old);
        });
    }

    /// ENVCHANGE 20, routing (Azure SQL's gateway): the new value is a length, protocol 0
    /// (TCP), the port and the server name as US_VARCHAR; the old value is empty (two zero
    /// bytes).
    pub fn env_change_routing(&mut self, host: &str, port: u16) {
        self.with_len(0xE3, |t| {
            t.0.push(20);
            let mut v = Tokens::default();
            v.0.push(0);
            v.put_u16(port);
            v.us_varchar(host);
            t.put_u16(v.0.len() as u16);
            t.0.extend(v.0);
            t.put_u16(0);
        });
    }

    /// ERROR (2.2.7.10): number, state, class, message, server, procedure, line (4 bytes
    /// from TDS 7.2).
    pub fn error(&mut self, number: u32, class: u8, message: &str, line: u32) {
        self.with_len(0xAA, |t| {
            t.put_u32(number);
            t.0.push(1);
            t.0.push(class);
            t.us_varchar(message);
            t.b_varchar("tds-test");
            t.b_varchar("");
            t.put_u32(line);
        });
    }

    /// DONE (0xFD), DONEPROC (0xFE), DONEINPROC (0xFF): status, current command, an 8-byte
    /// row count (2.2.7.6-8).
    pub fn done_token(&mut self, token: u8, status: u16, rows: u64) {
        self.0.push(token);
        self.put_u16(status);
        self.put_u16(0xC1); // SELECT
        self.0.extend_from_slice(&rows.to_le_bytes());
    }

    pub fn done(&mut self, status: u16, rows: u64) {
        self.done_token(0xFD, status, rows)
    }

    /// RETURNSTATUS (2.2.7.18): the procedure's return value.
    pub fn return_status(&mut self, v: i32) {
        self.0.push(0x79);
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// COLMETADATA (2.2.7.4): count, then per column UserType (4), Flags (2), TYPE_INFO and
    /// the name as B_VARCHAR.
    pub fn col_metadata(&mut self, cols: &[(&str, Ty)]) {
        self.0.push(0x81);
        self.put_u16(cols.len() as u16);
        for (name, ty) in cols {
            self.put_u32(0);
            // fNullable, fUpdateable unknown; INT4 columns are NOT NULL.
            self.put_u16(if matches!(ty, Ty::Int4) {
                0x0010
            } else {
                0x0011
            });
            match *ty {
                Ty::Int4 => self.0.push(0x38),
                Ty::IntN(n) => self.0.extend_from_slice(&[0x26, n]),
                Ty::BitN => self.0.extend_from_slice(&[0x68, 1]),
                Ty::Decimal(p, s) => self.0.extend_from_slice(&[0x6A, decimal_len(p), p, s]),
                Ty::Numeric(p, s) => self.0.extend_from_slice(&[0x6C, decimal_len(p), p, s]),
                Ty::MoneyN(n) => self.0.extend_from_slice(&[0x6E, n]),
                Ty::FloatN(n) => self.0.extend_from_slice(&[0x6D, n]),
                Ty::Date => self.0.push(0x28),
                Ty::Time(s) => self.0.extend_from_slice(&[0x29, s]),
                Ty::DateTime2(s) => self.0.extend_from_slice(&[0x2A, s]),
                Ty::Dto(s) => self.0.extend_from_slice(&[0x2B, s]),
                Ty::DateTimeN => self.0.extend_from_slice(&[0x6F, 8]),
                Ty::SmallDateTimeN => self.0.extend_from_slice(&[0x6F, 4]),
                Ty::Guid => self.0.extend_from_slice(&[0x24, 16]),
                Ty::NVarChar(n) => {
                    self.0.push(0xE7);
                    self.put_u16(n * 2);
                    self.0.extend_from_slice(&COLLATION);
                }
                Ty::NVarCharMax => {
                    self.0.push(0xE7);
                    self.put_u16(0xFFFF);
                    self.0.extend_from_slice(&COLLATION);
                }
                Ty::VarChar(n) => {
                    self.0.push(0xA7);
                    self.put_u16(n);
                    self.0.extend_from_slice(&COLLATION);
                }
                Ty::VarCharMax => {
                    self.0.push(0xA7);
                    self.put_u16(0xFFFF);
                    self.0.extend_from_slice(&COLLATION);
                }
                Ty::VarBinaryMax => {
                    self.0.push(0xA5);
                    self.put_u16(0xFFFF);
                }
                // XMLTYPE: SCHEMA_PRESENT = 0.
                Ty::Xml => self.0.extend_from_slice(&[0xF1, 0]),
                // TEXTTYPE, NTEXTTYPE, IMAGETYPE: LONGLEN maximum, the collation (text
                // types), then the table's name in parts (NumParts, US_VARCHAR each).
                Ty::Text | Ty::NText | Ty::Image => {
                    self.0.push(match ty {
                        Ty::Text => 0x23,
                        Ty::NText => 0x63,
                        _ => 0x22,
                    });
                    self.put_u32(0x7FFF_FFFF);
                    if !matches!(ty, Ty::Image) {
                        self.0.extend_from_slice(&COLLATION);
                    }
                    self.0.push(2);
                    self.us_varchar("dbo");
                    self.us_varchar("types");
                }
                Ty::NChar(n) => {
                    self.0.push(0xEF);
                    self.put_u16(n * 2);
                    self.0.extend_from_slice(&COLLATION);
                }
                Ty::Char(n) => {
                    self.0.push(0xAF);
                    self.put_u16(n);
                    self.0.extend_from_slice(&COLLATION);
                }
                Ty::Binary(n) => {
                    self.0.push(0xAD);
                    self.put_u16(n);
                }
                Ty::VarBinary(n) => {
                    self.0.push(0xA5);
                    self.put_u16(n);
                }
            }
            self.b_varchar(name);
        }
    }

    /// One value as TYPE_VARBYTE for its column type (2.2.5.2, 2.2.5.5).
    fn value(&mut self, ty: Ty, v: &Val) {
        match (ty, v) {
            (Ty::Int4, Val::Int(i)) => self.0.extend_from_slice(&(*i as i32).to_le_bytes()),
            (
                Ty::NVarChar(_)
                | Ty::VarChar(_)
                | Ty::VarBinary(_)
                | Ty::NChar(_)
                | Ty::Char(_)
                | Ty::Binary(_),
                Val::Null,
            ) => self.put_u16(0xFFFF),
            (Ty::Text | Ty::NText | Ty::Image, Val::Null) => self.0.push(0),
            (Ty::NVarCharMax | Ty::VarCharMax | Ty::VarBinaryMax | Ty::Xml, Val::Null) => {
                self.0.extend_from_slice(&u64::MAX.to_le_bytes())
            }
            (_, Val::Null) => self.0.push(0),
            (Ty::IntN(n), Val::Int(i)) => {
                self.0.push(n);
                self.0.extend_from_slice(&i.to_le_bytes()[..n as usize]);
            }
            (Ty::BitN, Val::Bit(b)) => self.0.extend_from_slice(&[1, u8::from(*b)]),
            (Ty::Decimal(p, _) | Ty::Numeric(p, _), Val::Dec(d)) => {
                // Length, sign (1 positive, 0 negative), the magnitude little-endian.
                let len = decimal_len(p);
                self.0.push(len);
                self.0.push(u8::from(*d >= 0));
                self.0
                    .extend_from_slice(&d.unsigned_abs().to_le_bytes()[..len as usize - 1]);
            }
            (Ty::MoneyN(8), Val::Money(m)) => {
                // money: the high 32 bits first, then the low 32 bits (2.2.5.5.1.4).
                self.0.push(8);
                self.0.extend_from_slice(&((*m >> 32) as i32).to_le_bytes());
                self.0.extend_from_slice(&(*m as u32).to_le_bytes());
            }
            (Ty::MoneyN(4), Val::Money(m)) => {
                self.0.push(4);
                self.0.extend_from_slice(&(*m as i32).to_le_bytes());
            }
            (Ty::FloatN(8), Val::Float(f)) => {
                self.0.push(8);
                self.0.extend_from_slice(&f.to_le_bytes());
            }
            (Ty::FloatN(4), Val::Float(f)) => {
                self.0.push(4);
                self.0.extend_from_slice(&(*f as f32).to_le_bytes());
            }
            (Ty::Date, Val::Date(d)) => {
                self.0.push(3);
                self.0.extend_from_slice(&d.to_le_bytes()[..3]);
            }
            (Ty::Time(s), Val::Time(t)) => {
                let n = time_len(s);
                self.0.push(n as u8);
                self.0.extend_from_slice(&t.to_le_bytes()[..n]);
            }
            (Ty::DateTime2(s), Val::DateTime2(d, t)) => {
                let n = time_len(s);
                self.0.push(n as u8 + 3);
                self.0.extend_from_slice(&t.to_le_bytes()[..n]);
                self.0.extend_from_slice(&d.to_le_bytes()[..3]);
            }
            (Ty::Dto(s), Val::Dto(d, t, off)) => {
                let n = time_len(s);
                self.0.push(n as u8 + 5);
                self.0.extend_from_slice(&t.to_le_bytes()[..n]);
                self.0.extend_from_slice(&d.to_le_bytes()[..3]);
                self.0.extend_from_slice(&off.to_le_bytes());
            }
            (Ty::DateTimeN, Val::DateTime(d, f)) => {
                self.0.push(8);
                self.0.extend_from_slice(&d.to_le_bytes());
                self.put_u32(*f);
            }
            (Ty::SmallDateTimeN, Val::DateTime(d, minutes)) => {
                self.0.push(4);
                self.0.extend_from_slice(&(*d as u16).to_le_bytes());
                self.0.extend_from_slice(&(*minutes as u16).to_le_bytes());
            }
            (Ty::Guid, Val::Guid(u)) => {
                self.0.push(16);
                self.0.extend_from_slice(&guid_to_wire(u));
            }
            (Ty::NVarChar(_) | Ty::NChar(_), Val::Text(s)) => {
                let b: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
                self.put_u16(b.len() as u16);
                self.0.extend(b);
            }
            (Ty::VarChar(_) | Ty::Char(_), Val::Text(s)) => {
                let b = cp1252(s);
                self.put_u16(b.len() as u16);
                self.0.extend(b);
            }
            (Ty::VarBinary(_) | Ty::Binary(_), Val::Bytes(b)) => {
                self.put_u16(b.len() as u16);
                self.0.extend_from_slice(b);
            }
            (Ty::NVarCharMax | Ty::Xml, Val::Text(s)) => self.plp(
                &s.encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>(),
            ),
            (Ty::VarCharMax, Val::Text(s)) => self.plp(&cp1252(s)),
            (Ty::Text, Val::Text(s)) => self.text_ptr(&cp1252(s)),
            (Ty::NText, Val::Text(s)) => self.text_ptr(
                &s.encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>(),
            ),
            (Ty::Image, Val::Bytes(b)) => self.text_ptr(b),
            (Ty::VarBinaryMax, Val::Bytes(b)) => self.plp(b),
            (ty, v) => panic!("test server: no encoding of {v:?} as {ty:?}"),
        }
    }

    /// PLP (2.2.5.2.3): the total length, chunks of at most 3000 bytes, a zero terminator.
    fn plp(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u64).to_le_bytes());
        for chunk in b.chunks(3000) {
            self.put_u32(chunk.len() as u32);
            self.0.extend_from_slice(chunk);
        }
        self.put_u32(0);
    }

    /// A text/ntext/image value (2.2.7.19): TextPointer as B_VARBYTE (16 bytes), an 8-byte
    /// Timestamp, then the data with a four-byte length.
    fn text_ptr(&mut self, b: &[u8]) {
        self.0.push(16);
        self.0.extend_from_slice(&[0xA5; 16]);
        self.0.extend_from_slice(&[0; 8]);
        self.put_u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }

    /// ROW (2.2.7.19): every value in column order.
    pub fn row(&mut self, cols: &[(&str, Ty)], vals: &[Val]) {
        self.0.push(0xD1);
        for ((_, ty), v) in cols.iter().zip(vals) {
            self.value(*ty, v);
        }
    }

    /// NBCROW (2.2.7.13): a bitmap of NULL columns (bit i of byte i/8), then the others.
    pub fn nbc_row(&mut self, cols: &[(&str, Ty)], vals: &[Val]) {
        self.0.push(0xD2);
        let mut bitmap = vec![0u8; cols.len().div_ceil(8)];
        for (i, v) in vals.iter().enumerate() {
            if matches!(v, Val::Null) {
                bitmap[i / 8] |= 1 << (i % 8);
            }
        }
        self.0.extend(bitmap);
        for ((_, ty), v) in cols.iter().zip(vals) {
            if !matches!(v, Val::Null) {
                self.value(*ty, v);
            }
        }
    }
}

/// Helpers for the canned data: chrono values to wire fields.
pub mod wire {
    use chrono::{NaiveDate, NaiveDateTime, Timelike};

    fn year1() -> NaiveDate {
        NaiveDate::from_ymd_opt(1, 1, 1).unwrap()
    }

    /// Days since 0001-01-01.
    pub fn days(d: NaiveDate) -> u32 {
        (d - year1()).num_days() as u32
    }

    /// "YYYY-MM-DD HH:MM:SS.fffffff" (up to 7 fractional digits) as days and increments of
    /// 10^-scale s.
    pub fn dt2(s: &str, scale: u8) -> (u32, u64) {
        let (date, time) = s.split_once(' ').unwrap();
        let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        (days(d), time_inc(time, scale))
    }

    /// "HH:MM:SS.fffffff" as increments of 10^-scale s.
    pub fn time_inc(s: &str, scale: u8) -> u64 {
        let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
        let mut p = hms.split(':').map(|x| x.parse::<u64>().unwrap());
        let secs = p.next().unwrap() * 3600 + p.next().unwrap() * 60 + p.next().unwrap();
        let mut frac = frac.to_string();
        assert!(
            frac.len() <= scale as usize,
            "{s} has more digits than scale {scale}"
        );
        while frac.len() < scale as usize {
            frac.push('0');
        }
        secs * 10u64.pow(u32::from(scale)) + frac.parse::<u64>().unwrap_or(0)
    }

    /// A datetime2 parameter (days, increments at its scale) as a chrono value.
    pub fn to_naive(days: u32, inc: u64, scale: u8) -> NaiveDateTime {
        let nanos = inc * 10u64.pow(9 - u32::from(scale));
        year1().and_hms_opt(0, 0, 0).unwrap()
            + chrono::Duration::days(i64::from(days))
            + chrono::Duration::nanoseconds(nanos as i64)
    }

    /// A chrono value as days and increments of 10^-scale s.
    pub fn from_naive(t: NaiveDateTime, scale: u8) -> (u32, u64) {
        let nanos = u64::from(t.time().num_seconds_from_midnight()) * 1_000_000_000
            + u64::from(t.time().nanosecond());
        (days(t.date()), nanos / 10u64.pow(9 - u32::from(scale)))
    }
}

/// The byte encodings a CSV file may use. Every one maps ASCII to ASCII, so the scanner can find
/// delimiters and quotes in the raw bytes and decode each field afterwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    #[default]
    Utf8,
    /// ISO-8859-1: each byte is the code point of the same number.
    Latin1,
    /// Latin-1 with printable characters (€, curly quotes, …) in 0x80–0x9F.
    Windows1252,
}

/// Code points of Windows-1252's 0x80–0x9F. The five bytes Microsoft leaves undefined map to the
/// C1 control of the same number, as WHATWG does, so every byte decodes and nothing is lost.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

impl Encoding {
    pub fn parse(name: &str) -> Option<Encoding> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" => Some(Encoding::Latin1),
            "windows-1252" | "cp1252" => Some(Encoding::Windows1252),
            _ => None,
        }
    }

    /// The text of `bytes`: borrowed when the file is UTF-8 (the common, fast case), decoded
    /// into `scratch` otherwise. Only UTF-8 can fail.
    pub fn decode<'a>(
        self,
        bytes: &'a [u8],
        scratch: &'a mut String,
    ) -> Result<&'a str, std::str::Utf8Error> {
        match self {
            Encoding::Utf8 => std::str::from_utf8(bytes),
            Encoding::Latin1 | Encoding::Windows1252 => {
                scratch.clear();
                if bytes.is_ascii() {
                    // Same bytes, and ASCII is valid UTF-8 by construction.
                    scratch.push_str(std::str::from_utf8(bytes).expect("ASCII"));
                } else {
                    scratch.extend(bytes.iter().map(|&b| self.char_of(b)));
                }
                Ok(scratch)
            }
        }
    }

    fn char_of(self, b: u8) -> char {
        match (self, b) {
            (Encoding::Windows1252, 0x80..=0x9F) => CP1252_HIGH[(b - 0x80) as usize],
            _ => b as char,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(enc: Encoding, bytes: &[u8]) -> String {
        let mut scratch = String::new();
        enc.decode(bytes, &mut scratch).unwrap().to_string()
    }

    #[test]
    fn latin1_maps_each_byte_to_its_code_point() {
        assert_eq!(
            decode(Encoding::Latin1, b"Caf\xe9 M\xfcller \xa3"),
            "Café Müller £"
        );
        assert_eq!(decode(Encoding::Latin1, b"\x80\x9f"), "\u{80}\u{9f}");
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(
            decode(Encoding::Latin1, &all)
                .chars()
                .map(|c| c as u32)
                .collect::<Vec<_>>(),
            (0..=255).collect::<Vec<u32>>()
        );
    }

    #[test]
    fn windows_1252_decodes_the_0x80_block() {
        assert_eq!(
            decode(
                Encoding::Windows1252,
                b"\x80 \x93quoted\x94 \x96 \x99 caf\xe9"
            ),
            "€ “quoted” – ™ café"
        );
        assert_eq!(
            decode(Encoding::Windows1252, b"\x81\x8d\x8f\x90\x9d"),
            "\u{81}\u{8d}\u{8f}\u{90}\u{9d}"
        );
        assert_eq!(decode(Encoding::Windows1252, b"\x8a\x9a\x9f"), "ŠšŸ");
    }

    #[test]
    fn utf8_is_borrowed_and_checked() {
        assert_eq!(decode(Encoding::Utf8, "naïve".as_bytes()), "naïve");
        let mut scratch = String::new();
        let err = Encoding::Utf8
            .decode(b"caf\xe9!", &mut scratch)
            .unwrap_err();
        assert_eq!(err.valid_up_to(), 3);
    }

    #[test]
    fn names() {
        assert_eq!(Encoding::parse("UTF-8"), Some(Encoding::Utf8));
        assert_eq!(Encoding::parse("iso-8859-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::parse("Windows-1252"), Some(Encoding::Windows1252));
        assert_eq!(Encoding::parse("utf-16"), None);
    }
}

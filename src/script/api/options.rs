//! Reading option maps (`#{ key: value }`) with errors that name the option and the type
//! expected, and that reject unknown keys (a typo must not silently do nothing).

use rhai::{Dynamic, Map};

use super::{fail, Res};

pub struct Options<'a> {
    what: &'a str,
    map: Map,
}

impl<'a> Options<'a> {
    /// `known` lists every valid key; any other key is an error naming them.
    pub fn new(what: &'a str, map: Map, known: &[&str]) -> Res<Options<'a>> {
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(fail(format!(
                    "{what}: unknown option '{key}' (valid options: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(Options { what, map })
    }

    /// Whether the script gave `key` (not unit).
    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_unit())
    }

    pub fn take(&mut self, key: &str) -> Option<Dynamic> {
        self.map.remove(key).filter(|v| !v.is_unit())
    }

    fn wrong(&self, key: &str, expected: &str, got: &Dynamic) -> Box<rhai::EvalAltResult> {
        fail(format!(
            "{}: option '{key}' must be {expected}, not {}",
            self.what,
            got.type_name()
        ))
    }

    pub fn string(&mut self, key: &str) -> Res<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.into_string().expect("string"))),
            Some(v) => Err(self.wrong(key, "a string", &v)),
        }
    }

    pub fn bool(&mut self, key: &str) -> Res<Option<bool>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .map_err(|_| self.wrong(key, "true or false", &v)),
        }
    }

    pub fn int(&mut self, key: &str) -> Res<Option<i64>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v
                .as_int()
                .map(Some)
                .map_err(|_| self.wrong(key, "an integer", &v)),
        }
    }

    pub fn number(&mut self, key: &str) -> Res<Option<f64>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) if v.is_int() => Ok(Some(v.as_int().expect("int") as f64)),
            Some(v) => v
                .as_float()
                .map(Some)
                .map_err(|_| self.wrong(key, "a number", &v)),
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    pub fn strings(&mut self, key: &str) -> Res<Option<Vec<String>>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(vec![v.into_string().expect("string")])),
            Some(v) if v.is_array() => {
                let arr = v.clone().into_array().expect("array");
                arr.into_iter()
                    .map(|x| {
                        x.into_string()
                            .map_err(|_| self.wrong(key, "a list of strings", &v))
                    })
                    .collect::<Res<Vec<String>>>()
                    .map(Some)
            }
            Some(v) => Err(self.wrong(key, "a list of strings", &v)),
        }
    }

    pub fn map(&mut self, key: &str) -> Res<Option<Map>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) if v.is_map() => Ok(Some(v.cast::<Map>())),
            Some(v) => Err(self.wrong(key, "a map #{...}", &v)),
        }
    }
}

//! What an account may hold beyond its names: a postal address and a phone number, which
//! apps get under the `address` and `phone` scopes (OIDC Core §5.1, §5.1.1, §5.4).
//! Gatehouse sends no SMS, so a phone number is never verified.

use serde_json::{Map, Value};

/// Each part is trimmed text; empty means the user left it out.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Contact {
    pub phone_number: String,
    /// May hold several lines, separated by `\n` (OIDC Core §5.1.1).
    pub street_address: String,
    pub locality: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

/// Long enough for any real address line, short enough that nobody stores a novel.
const MAX_PART: usize = 100;
const MAX_STREET: usize = 300;
/// E.164 allows at most 15 digits; fewer than 6 is not a phone number anywhere.
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 6..=15;

impl Contact {
    /// Reads and checks the account page's form fields (`field(name)`, absent = empty).
    pub fn parse<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Result<Contact, &'static str> {
        let part = |name: &str| -> Result<String, &'static str> {
            let value = field(name).unwrap_or_default().trim();
            if value.chars().count() > MAX_PART {
                return Err("Each part of the address can have at most 100 characters.");
            }
            if value.chars().any(char::is_control) {
                return Err("The address cannot contain control characters.");
            }
            Ok(value.to_string())
        };
        Ok(Contact {
            phone_number: phone(field("phone_number").unwrap_or_default())?,
            street_address: street(field("street_address").unwrap_or_default())?,
            locality: part("locality")?,
            region: part("region")?,
            postal_code: part("postal_code")?,
            country: part("country")?,
        })
    }

    /// The `address` claim (OIDC Core §5.1.1), or none when no part is given.
    pub fn address_claim(&self) -> Option<Value> {
        let parts = [
            ("street_address", &self.street_address),
            ("locality", &self.locality),
            ("region", &self.region),
            ("postal_code", &self.postal_code),
            ("country", &self.country),
        ];
        let mut claim: Map<String, Value> = parts
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| ((*k).to_string(), Value::from(v.as_str())))
            .collect();
        if claim.is_empty() {
            return None;
        }
        claim.insert("formatted".into(), self.formatted().into());
        Some(Value::Object(claim))
    }

    /// The address as it would be written on an envelope: the street lines, then
    /// "locality region postal_code", then the country.
    fn formatted(&self) -> String {
        let town = [&self.locality, &self.region, &self.postal_code]
            .iter()
            .filter(|v| !v.is_empty())
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        [self.street_address.as_str(), town.as_str(), self.country.as_str()]
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn phone_claim(&self) -> Option<&str> {
        (!self.phone_number.is_empty()).then_some(self.phone_number.as_str())
    }
}

/// A phone number as people write it, with its country code: `+1 (425) 555-1212`.
fn phone(raw: &str) -> Result<String, &'static str> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    const HINT: &str = "Enter a phone number with its country code, such as +1 425 555 1212.";
    let allowed = |c: char| c.is_ascii_digit() || " ()-.".contains(c);
    let Some(rest) = value.strip_prefix('+') else {
        return Err(HINT);
    };
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    if !rest.chars().all(allowed) || !PHONE_DIGITS.contains(&digits) {
        return Err(HINT);
    }
    Ok(value.to_string())
}

/// Street lines: browsers send `\r\n` from a textarea; blank lines are dropped.
fn street(raw: &str) -> Result<String, &'static str> {
    let lines: Vec<&str> = raw.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let value = lines.join("\n");
    if value.chars().count() > MAX_STREET {
        return Err("The street address can have at most 300 characters.");
    }
    if lines.iter().any(|l| l.chars().any(char::is_control)) {
        return Err("The address cannot contain control characters.");
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn an_empty_form_is_an_empty_contact_with_no_claims() {
        let contact = Contact::parse(form(&[])).unwrap();
        assert_eq!(contact, Contact::default());
        assert_eq!(contact.address_claim(), None);
        assert_eq!(contact.phone_claim(), None);
    }

    #[test]
    fn the_address_claim_holds_the_parts_given_and_their_formatted_form() {
        let contact = Contact::parse(form(&[
            ("street_address", " 1 Main St\r\n\r\nApt 2 "),
            ("locality", "Springfield"),
            ("postal_code", "62704"),
            ("country", "US"),
        ]))
        .unwrap();
        assert_eq!(
            contact.address_claim(),
            Some(json!({
                "street_address": "1 Main St\nApt 2",
                "locality": "Springfield",
                "postal_code": "62704",
                "country": "US",
                "formatted": "1 Main St\nApt 2\nSpringfield 62704\nUS",
            }))
        );
    }

    #[test]
    fn phone_numbers_need_a_country_code_and_a_plausible_length() {
        for good in ["+1 (425) 555-1212", "+44 20 7946 0958", "+4915112345678"] {
            assert_eq!(phone(good).unwrap(), good);
        }
        for bad in [
            "425 555 1212",
            "+12345",
            "+1 425 555 1212 999 999",
            "+1 425-CALL-NOW",
            "+1\n425",
        ] {
            assert!(phone(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn overlong_or_control_character_parts_are_refused() {
        let long = "x".repeat(MAX_PART + 1);
        assert!(Contact::parse(form(&[("locality", long.as_str())])).is_err());
        assert!(Contact::parse(form(&[("country", "U\u{7}S")])).is_err());
        assert!(Contact::parse(form(&[("street_address", "1 Main\u{1b}[31m St")])).is_err());
    }
}

//! Reads the forms out of an HTML page the way a browser would submit them.

use scraper::{ElementRef, Html, Selector};
use url::Url;

#[derive(Debug, Clone)]
pub struct Form {
    pub action: Url,
    /// `GET` or `POST`.
    pub method: String,
    /// Successful controls other than submit buttons, in document order.
    pub fields: Vec<(String, String)>,
    /// Named submit buttons as `(name, value)`.
    pub buttons: Vec<(String, String)>,
}

impl Form {
    /// The form data sent when `button` (a `name=value` pair) is pressed, with `fill`
    /// overriding or adding fields.
    pub fn submission(&self, fill: &[(String, String)], button: Option<&str>) -> Vec<(String, String)> {
        let mut data: Vec<(String, String)> = self
            .fields
            .iter()
            .filter(|(name, _)| !fill.iter().any(|(n, _)| n == name))
            .cloned()
            .collect();
        data.extend(fill.iter().cloned());
        let pressed = match button {
            Some(pair) => pair.split_once('=').map(|(n, v)| (n.to_string(), v.to_string())),
            None => self.buttons.first().cloned(),
        };
        data.extend(pressed);
        data
    }
}

fn selector(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|_| unreachable!("constant selector {s}"))
}

/// Every form on the page, its action resolved against the page URL.
pub fn forms(page: &Url, html: &str) -> Vec<Form> {
    let doc = Html::parse_document(html);
    let controls = selector("input, button, textarea, select");
    // Controls outside a form join it through their `form` attribute (HTML §4.10.17.3).
    let outside: Vec<ElementRef<'_>> = doc
        .select(&controls)
        .filter(|c| c.value().attr("form").is_some())
        .collect();
    doc.select(&selector("form"))
        .filter_map(|form| {
            let action = match form.value().attr("action").map(str::trim) {
                None | Some("") => page.clone(),
                Some(a) => page.join(a).ok()?,
            };
            let method = form.value().attr("method").unwrap_or("get").to_ascii_uppercase();
            let mut fields = Vec::new();
            let mut buttons = Vec::new();
            for control in form.select(&controls).filter(|c| c.value().attr("form").is_none()) {
                read_control(control, &mut fields, &mut buttons);
            }
            if let Some(id) = form.value().attr("id") {
                for control in outside.iter().filter(|c| c.value().attr("form") == Some(id)) {
                    read_control(*control, &mut fields, &mut buttons);
                }
            }
            Some(Form {
                action,
                method,
                fields,
                buttons,
            })
        })
        .collect()
}

fn read_control(control: ElementRef<'_>, fields: &mut Vec<(String, String)>, buttons: &mut Vec<(String, String)>) {
    let el = control.value();
    let Some(name) = el.attr("name").filter(|n| !n.is_empty()) else {
        return;
    };
    if el.attr("disabled").is_some() {
        return;
    }
    let value = el.attr("value").unwrap_or("").to_string();
    match el.name() {
        "button" => {
            if el.attr("type").is_none_or(|t| t.eq_ignore_ascii_case("submit")) {
                buttons.push((name.into(), value));
            }
        }
        "textarea" => fields.push((name.into(), control.text().collect())),
        "select" => {
            let options: Vec<ElementRef<'_>> = control.select(&selector("option")).collect();
            let chosen = options
                .iter()
                .find(|o| o.value().attr("selected").is_some())
                .or(options.first());
            if let Some(o) = chosen {
                let v = o
                    .value()
                    .attr("value")
                    .map(str::to_string)
                    .unwrap_or_else(|| o.text().collect());
                fields.push((name.into(), v));
            }
        }
        _ => match el.attr("type").unwrap_or("text").to_ascii_lowercase().as_str() {
            "submit" | "image" => buttons.push((name.into(), value)),
            "checkbox" | "radio" => {
                if el.attr("checked").is_some() {
                    fields.push((name.into(), if value.is_empty() { "on".into() } else { value }));
                }
            }
            "reset" | "file" => {}
            _ => fields.push((name.into(), value)),
        },
    }
}

/// The page's visible text, lower-cased, for "does this page say error" checks. Script and
/// style contents are not text a user sees.
pub fn text(html: &str) -> String {
    let doc = Html::parse_document(html);
    let mut out = Vec::new();
    for body in doc.select(&selector("body")) {
        for node in body.descendants() {
            let Some(t) = node.value().as_text() else { continue };
            let hidden = node.ancestors().any(|a| {
                a.value()
                    .as_element()
                    .is_some_and(|e| matches!(e.name(), "script" | "style" | "noscript" | "template"))
            });
            if !hidden {
                out.push(t.to_string());
            }
        }
    }
    out.join(" ").to_lowercase()
}

/// Whether the page has an element matching `css` whose `attr`, resolved against the
/// page URL, is exactly `url` (an `<img src>` or `<a href>` naming a registered URI).
pub fn links_to(page: &Url, html: &str, css: &str, attr: &str, url: &str) -> bool {
    let doc = Html::parse_document(html);
    let wanted = Url::parse(url).ok();
    doc.select(&selector(css)).any(|e| {
        e.value()
            .attr(attr)
            .and_then(|v| page.join(v.trim()).ok())
            .is_some_and(|found| Some(&found) == wanted.as_ref())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_logo_and_links_by_resolved_url() {
        let page = Url::parse("https://op.test/consent").unwrap();
        let html = r#"<body><img alt="x" src="http://127.0.0.1:9/rp/a/logo.png?x=1&amp;y=2">
            <a href="http://127.0.0.1:9/rp/a/policy">policy</a></body>"#;
        assert!(links_to(
            &page,
            html,
            "img",
            "src",
            "http://127.0.0.1:9/rp/a/logo.png?x=1&y=2"
        ));
        assert!(links_to(&page, html, "a", "href", "http://127.0.0.1:9/rp/a/policy"));
        assert!(!links_to(&page, html, "a", "href", "http://127.0.0.1:9/rp/a/tos"));
        assert!(!links_to(&page, html, "img", "src", "http://127.0.0.1:9/rp/a/policy"));
    }

    #[test]
    fn reads_hidden_fields_buttons_and_entities() {
        let page = Url::parse("https://op.test/interaction/abc").unwrap();
        let html = r#"<html><body>
            <form method="post" action="/interaction/abc/login">
              <input type="hidden" name="csrf" value="a&amp;b">
              <input name="login"><input type="password" name="password">
              <input type="checkbox" name="remember">
              <button type="submit" name="decision" value="allow">Allow</button>
              <button type="button" name="ignored">x</button>
            </form>
            <form action="https://rp.test/cb" id="f2"><input type="hidden" name="code" value="c"></form>
            <button form="f2" name="logout" value="yes">Yes</button>
        </body></html>"#;
        let found = forms(&page, html);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].action.as_str(), "https://op.test/interaction/abc/login");
        assert_eq!(found[0].method, "POST");
        assert_eq!(found[0].fields[0], ("csrf".into(), "a&b".into()));
        assert_eq!(found[0].buttons, vec![("decision".into(), "allow".into())]);
        let sent = found[0].submission(&[("login".into(), "alice".into())], None);
        assert!(sent.contains(&("login".into(), "alice".into())));
        assert!(sent.contains(&("decision".into(), "allow".into())));
        assert!(!sent.iter().any(|(n, _)| n == "remember"));
        assert_eq!(found[1].method, "GET");
        assert_eq!(found[1].buttons, vec![("logout".into(), "yes".into())]);
        let said = text("<body><p>Signed out</p><script>if (error) {}</script></body>");
        assert!(said.contains("signed out") && !said.contains("error"), "{said}");
    }
}

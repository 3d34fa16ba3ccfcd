//! The account page's "Address and phone" form: what apps get under the `address` and
//! `phone` scopes. Like the names, it needs no password: it proves nothing and opens
//! nothing, and an app sees it only with the user's grant.

use super::profile::with_form;
use crate::contact::Contact;
use crate::error::AppError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

pub async fn update(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, AppError> {
    with_form(state, headers, body, |state, _, account, params| async move {
        let contact = match Contact::parse(|name| params.get(name)) {
            Ok(contact) => contact,
            Err(e) => return Ok(Err(e.into())),
        };
        if contact == account.contact {
            return Ok(Ok("Nothing to change.".into()));
        }
        state
            .store
            .set_contact(&account.id, &contact, state.clock.now())
            .await?;
        Ok(Ok("Address and phone saved.".into()))
    })
    .await
}

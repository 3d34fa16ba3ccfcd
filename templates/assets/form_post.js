// Submits the authorization response to the application (response_mode=form_post).
document.getElementById("form-post").submit();

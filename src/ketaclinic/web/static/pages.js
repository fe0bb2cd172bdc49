// htmx leaves a 4xx reply unswapped; a 422 is the form again with the server's message beside the
// field (nothing was saved), so it is shown like any other reply.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.xhr.status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

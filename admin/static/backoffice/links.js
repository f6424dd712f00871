// Flask-Admin's templates use links to "javascript:void(0)" for menu items and tabs that
// its own scripts handle, and one onclick="return false;" (shadowed in admin/templates).
// Under the back-office's CSP such URLs are blocked, so do here what they meant: keep
// the browser from following them.
// In the capture phase: before any handler may stop the event on its way.
window.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof Element && target.closest('a[href^="javascript:"]')) {
    event.preventDefault();
  }
}, true);

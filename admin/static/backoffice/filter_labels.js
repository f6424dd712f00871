// The filters of Flask-Admin's lists are rows its filters.js builds (a link to remove
// the filter, the condition's <select>, the value's field; the selects dressed up by
// select2), none of them named: a screen reader would read « bouton est » or « champ de
// saisie » without saying which filter. Each row gets names from its filter's name,
// whenever rows appear (filters.js adds them on load and on « Ajouter un filtre »).
(function () {
  function name(field, text) {
    if (field.matches("select, input")) {
      field.setAttribute("aria-label", text);
      return;
    }
    // A select2 container: its focusable « button » is named by an empty label and the
    // choice shown; the label gets the filter's words, the button both.
    var focusser = field.querySelector(".select2-focusser");
    if (!focusser) {
      return;
    }
    var label = field.querySelector('label[for="' + focusser.id + '"]');
    if (label) {
      label.id = focusser.id + "-nom";
      // Only when it differs: a text set is a change the observer below sees.
      if (label.textContent !== text) {
        label.textContent = text;
      }
      var chosen = focusser.getAttribute("aria-labelledby") || "";
      if (chosen.indexOf(label.id) < 0) {
        focusser.setAttribute("aria-labelledby", (label.id + " " + chosen).trim());
      }
    }
    var search = field.querySelector(".select2-search label");
    if (search && search.textContent !== text + " (rechercher)") {
      search.textContent = text + " (rechercher)";
    }
  }

  function label(row) {
    var remove = row.querySelector(".remove-filter");
    if (!remove) {
      return;
    }
    var filter = remove.textContent.replace("\u00d7", "").trim();
    remove.setAttribute("aria-label", "Retirer le filtre « " + filter + " »");
    row.querySelectorAll(".filter-op").forEach(function (field) {
      name(field, filter + " : condition");
    });
    row.querySelectorAll(".filter-val").forEach(function (field) {
      name(field, filter + " : valeur");
    });
  }

  function labelAll(table) {
    table.querySelectorAll("tr").forEach(label);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.filters").forEach(function (table) {
      labelAll(table);
      new MutationObserver(function () { labelAll(table); })
        .observe(table, { childList: true, subtree: true });
    });
  });
})();

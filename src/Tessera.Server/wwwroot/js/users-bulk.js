// The users list's bulk form: "select all" ticks every user of the page, the role choice shows only for the role
// actions and the delete confirmation only for delete. Without this script every field shows and the server decides.
(function () {
  var form = document.getElementById("bulk-form");
  if (!form) { return; }
  var all = document.getElementById("select-all");
  var boxes = function () { return Array.prototype.slice.call(document.querySelectorAll("input.select-user")); };
  function syncAll() {
    if (!all) { return; }
    var list = boxes();
    var ticked = list.filter(function (b) { return b.checked; }).length;
    all.checked = list.length > 0 && ticked === list.length;
    all.indeterminate = ticked > 0 && ticked < list.length;
  }
  if (all) {
    all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
    });
  }
  boxes().forEach(function (b) { b.addEventListener("change", syncAll); });
  var action = document.getElementById("bulk-action");
  function update() {
    var value = action.value;
    form.querySelectorAll("[data-role-only]").forEach(function (el) { el.hidden = value !== "add_role" && value !== "remove_role"; });
    form.querySelectorAll("[data-delete-only]").forEach(function (el) { el.hidden = value !== "delete"; });
  }
  action.addEventListener("change", update);
  update();
  syncAll();
}());

// The Back Office menu: open beside the page on a wide screen; on a phone folded under its "Menu" button (the
// <summary>), so the page starts with its content. Without this script the menu stays open and wraps.
(function () {
    var details = document.getElementById('menu-details');
    if (!details || !window.matchMedia) {
        return;
    }

    var narrow = window.matchMedia('(max-width: 720px)');
    function fit() {
        details.open = !narrow.matches;
    }

    fit();
    if (narrow.addEventListener) {
        narrow.addEventListener('change', fit);
    }
})();

// Drawn signature: strokes on the canvas become a PNG data URL in the hidden field named by the
// canvas's data-field. Kept in a file of its own: the CSP allows no inline script.
(function () {
  "use strict";

  function start(canvas) {
    var field = document.getElementById(canvas.dataset.field);
    var clear = document.getElementById("signature-clear");
    var context = canvas.getContext("2d");
    var drawing = false;
    var drawn = false;

    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#111";

    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: (event.clientX - box.left) * (canvas.width / box.width),
        y: (event.clientY - box.top) * (canvas.height / box.height)
      };
    }

    function keep() {
      if (field && drawn) {
        field.value = canvas.toDataURL("image/png");
      }
    }

    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      var p = point(event);
      context.beginPath();
      context.moveTo(p.x, p.y);
      // A dot, so a tap is a visible mark too.
      context.lineTo(p.x + 0.1, p.y + 0.1);
      context.stroke();
      drawn = true;
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) {
        return;
      }
      var p = point(event);
      context.lineTo(p.x, p.y);
      context.stroke();
    });
    function stop() {
      if (drawing) {
        drawing = false;
        keep();
      }
    }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    canvas.addEventListener("pointerleave", stop);

    if (clear) {
      clear.addEventListener("click", function () {
        context.clearRect(0, 0, canvas.width, canvas.height);
        drawn = false;
        if (field) {
          field.value = "";
        }
      });
    }
    var form = canvas.closest("form");
    if (form) {
      form.addEventListener("submit", keep);
    }
  }

  function ready() {
    var pads = document.querySelectorAll("canvas.signature-pad");
    for (var i = 0; i < pads.length; i += 1) {
      start(pads[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();

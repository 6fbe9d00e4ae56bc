// The order confirmation page (confirm.html, served at /ucp/confirm/{checkout_id}).
// The token comes from the link's fragment (#token=...), which the browser never sends with a request; it is
// posted only to read the order's summary and, when the person presses a button, to confirm or decline it.
// A link without a token is an outside agent's continue_url: the page only says where to confirm.
// Everything shown is set with textContent: product names never become markup.
"use strict";

(() => {
  const page = location.pathname.replace(/\/+$/, "");
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const $ = (id) => document.getElementById(id);

  const OUTCOMES = {
    completed: (view) => `Thank you: order ${view.order_id} is placed.`,
    complete_in_progress: () => "Your order is being placed…",
    canceled: () => "This checkout was canceled: nothing was bought.",
    withdrawn: () => "This confirmation is no longer open: nothing was bought. Ask your shopping assistant to "
      + "complete the checkout again.",
  };

  async function call(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((data.error && data.error.message) || `The server answered ${response.status}.`);
    }
    return data;
  }

  function show(view) {
    $("summary").textContent = view.summary;
    $("total").textContent = `Total: ${view.total}`;
    const open = view.status === "requires_escalation";
    $("buttons").hidden = !open;
    $("outcome").textContent = open ? "" : (OUTCOMES[view.status] || (() => view.status))(view);
  }

  function fail(error) {
    $("outcome").textContent = error.message;
    $("confirm").disabled = $("decline").disabled = false;
  }

  async function decide(decision) {
    $("confirm").disabled = $("decline").disabled = true;
    $("outcome").textContent = decision === "confirm" ? "Placing your order…" : "Declining…";
    try {
      show(await call(page, { token, decision }));
    } catch (error) {
      fail(error);
    }
  }

  $("confirm").addEventListener("click", () => decide("confirm"));
  $("decline").addEventListener("click", () => decide("decline"));

  if (!token) {
    // An order a shopping agent prepared: a link is no consent, so it is confirmed in the store's own app.
    $("summary").textContent = "An order a shopping agent prepares is confirmed in the store's own app (its "
      + "chat page, or the store's command line): look for it there, and confirm or decline it. Nothing is "
      + "bought until you do, and the shopping agent cannot confirm it for you.";
  } else {
    call(`${page}/review`, { token }).then(show, (error) => {
      $("summary").textContent = error.message;
    });
  }
})();

// The few DOM helpers every section uses. Nothing here touches the page until it is called.

export const $ = (id) => document.getElementById(id);

/** An element: h("li", {class: "x", onclick: f}, child, "text", ...). Null/false children are skipped. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "style") element.style.cssText = value; // CSSOM: allowed by the CSP, unlike a style attribute
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Read `message` out to screen readers through the page's live region. */
export function announce(message) {
  const announcer = $("announcer");
  announcer.textContent = "";
  // A fresh text node after a tick is read out even when the message repeats.
  setTimeout(() => (announcer.textContent = message), 30);
}

export function show(element, visible) {
  element.hidden = !visible;
}

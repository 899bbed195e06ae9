// Renders /openapi.json as a plain list of endpoints (the service ships no Swagger UI: no CDN).
"use strict";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function describeSchema(schema) {
  if (!schema) return "";
  const parts = [schema.type || ""];
  if (schema.format) parts.push(`(${schema.format})`);
  if (schema.enum) parts.push(`one of ${schema.enum.join(", ")}`);
  if (schema.minimum !== undefined) parts.push(`${schema.minimum}..${schema.maximum}`);
  if (schema.default !== undefined) parts.push(`default ${schema.default}`);
  return parts.filter(Boolean).join(" ");
}

async function init() {
  document.getElementById("example").textContent =
    `curl -F file=@page.png -F format=text ${window.location.origin}/v1/read`;
  const spec = await (await fetch("/openapi.json")).json();
  const ops = document.getElementById("ops");
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const card = el("section", undefined, "page");
      card.append(el("h2", `${method.toUpperCase()} ${path}`, "page-title"));
      if (op.summary) card.append(el("p", op.summary));
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        for (const [ctype, media] of Object.entries(body)) {
          card.append(el("h3", `Request body: ${ctype}`));
          const table = el("table");
          for (const [name, schema] of Object.entries((media.schema && media.schema.properties) || {})) {
            const row = el("tr");
            row.append(el("td", name, "mono"), el("td", describeSchema(schema)), el("td", schema.description || ""));
            table.append(row);
          }
          card.append(table);
        }
      }
      const list = el("ul");
      for (const [code, resp] of Object.entries(op.responses || {})) {
        const types = Object.keys(resp.content || {}).join(", ");
        list.append(el("li", `${code}: ${resp.description || ""}${types ? ` (${types})` : ""}`));
      }
      card.append(el("h3", "Responses"), list);
      ops.append(card);
    }
  }
}

document.addEventListener("DOMContentLoaded", init);

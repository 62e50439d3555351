#!/bin/sh
# Rebuild kg/vendor/sigma-bundle.min.js and kg/vendor/sigma-bundle.LICENSE from npm (needs node and npm;
# the page itself needs neither). The versions are pinned in package.json beside this script.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/entry.js" "$work/"
cd "$work"
npm install --no-audit --no-fund --ignore-scripts >/dev/null
./node_modules/@esbuild/*/bin/esbuild entry.js --bundle --minify --format=iife --target=es2017 \
  --legal-comments=none --metafile=meta.json --outfile="$here/../sigma-bundle.min.js"
# The licence of every package whose code is in the bundle.
node -e '
const fs = require("fs");
const meta = JSON.parse(fs.readFileSync("meta.json", "utf8"));
const names = [...new Set(Object.keys(meta.inputs).map(p => (p.split("node_modules/")[1] || "").split("/")[0]).filter(Boolean))].sort();
const out = names.map(name => {
  const dir = "node_modules/" + name;
  const pkg = JSON.parse(fs.readFileSync(dir + "/package.json", "utf8"));
  const file = fs.readdirSync(dir).find(f => /^licen[cs]e/i.test(f));
  return "== " + name + " " + pkg.version + " (" + pkg.license + ") ==\n\n" + fs.readFileSync(dir + "/" + file, "utf8").trim() + "\n";
});
fs.writeFileSync(process.argv[1], out.join("\n"));
' "$here/../sigma-bundle.LICENSE"

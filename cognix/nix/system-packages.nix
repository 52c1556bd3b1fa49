# Cog's build.system_packages are Debian/Ubuntu apt names; a Nix image needs nixpkgs attributes.
# The table (system-packages.json, also read by the cognix CLI) maps apt name -> attribute path
# ("ffmpeg", "glib.out", "xorg.libSM"); null means "accepted, nothing to install" (python3-dev,
# software-properties-common, …: cognix brings its own Python, apt plumbing has no meaning here).
# An entry "nixpkgs:ATTR" bypasses the table and names a nixpkgs attribute path directly.
#
# builtins only (no nixpkgs lib) and Nix 2.8-safe, so `check` runs in tests and in the offline
# toolchain without a nixpkgs checkout.
{ }:
let
  table = builtins.fromJSON (builtins.readFile ./system-packages.json);
  inherit (builtins) stringLength substring length filter map sort elemAt head attrNames concatStringsSep;

  startsWith = prefix: s: substring 0 (stringLength prefix) s == prefix;
  endsWith = suffix: s:
    let n = stringLength s; k = stringLength suffix; in n >= k && substring (n - k) k s == suffix;

  # "libssl3t64:amd64=3.0.2-0ubuntu1" -> "libssl3": drop apt's version pin and arch qualifier,
  # then Ubuntu 24.04's 64-bit time_t rename (libglib2.0-0t64, libasound2t64, …) when unknown.
  normalise = raw:
    let
      cut = sep: s: head (builtins.split sep s);
      bare = cut ":" (cut "=" raw);
      noT64 = substring 0 (stringLength bare - 3) bare;
    in
    if !(table ? ${bare}) && endsWith "t64" bare && table ? ${noT64} then noT64 else bare;

  commonPrefix = a: b:
    let
      n = if stringLength a < stringLength b then stringLength a else stringLength b;
      go = i: if i < n && substring i 1 a == substring i 1 b then go (i + 1) else i;
    in
    go 0;

  contains = needle: s:
    let
      k = stringLength needle;
      go = i: i + k <= stringLength s && (substring i k s == needle || go (i + 1));
    in
    k > 0 && go 0;

  # Suggestions: known names sharing a real prefix (beyond a bare "lib") or containing the name
  # (or contained in it, for "ffmpeg4" vs "ffmpeg"); best three, longest shared prefix first.
  suggest = name:
    let
      score = known:
        let
          p = commonPrefix name known;
          floor = if startsWith "lib" name && startsWith "lib" known then 5 else 3;
          infix = (stringLength name >= 3 && contains name known)
            || (stringLength known >= 3 && contains known name);
        in
        (if p >= floor then p else 0) + (if infix then 10 else 0);
      scored = filter (c: c.score > 0) (map (known: { inherit known; score = score known; }) (attrNames table));
      sorted = sort (a: b: a.score > b.score || (a.score == b.score && a.known < b.known)) scored;
      # a much weaker match than the best one is noise ("openjdk" for "opencv")
      ranked = if sorted == [ ] then [ ] else filter (c: c.score * 2 >= (head sorted).score) sorted;
      top = if length ranked > 3 then [ (elemAt ranked 0) (elemAt ranked 1) (elemAt ranked 2) ] else ranked;
    in
    map (c: c.known) top;

  unknown = name:
    let s = suggest name; in
    throw ("cog.yaml build.system_packages: unknown apt package \"${name}\""
      + (if s == [ ] then "" else "; did you mean: ${concatStringsSep ", " s}?")
      + " (or add it to cognix/nix/system-packages.json, or write \"nixpkgs:<attribute>\""
      + " to name a nixpkgs package directly)");

  # name -> attribute path, or null for accepted-but-empty entries
  lookup = raw:
    if startsWith "nixpkgs:" raw then substring 8 (-1) raw
    else
      let name = normalise raw; in
      if table ? ${name} then table.${name} else unknown name;

  unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];

  # the attribute paths for these names, deduplicated, in first-seen order; throws on unknown names
  check = names: unique (filter (p: p != null) (map lookup names));

  getPath = pkgs: path:
    builtins.foldl'
      (set: attr:
        if builtins.isAttrs set && set ? ${attr} then set.${attr}
        else throw "cog.yaml build.system_packages: the pinned nixpkgs has no attribute \"${path}\" (no \"${attr}\")")
      pkgs
      (filter builtins.isString (builtins.split "\\." path));
in
{
  inherit table normalise suggest check;
  # the derivations for these names from a nixpkgs package set
  resolve = pkgs: names: map (getPath pkgs) (check names);
}

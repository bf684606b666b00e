# Evaluates the `hyperhive` set of an agent's agent.nix without nixpkgs.
# Run by surface.ts as `nix-instantiate --eval --strict --json -E <this file's text>`
# with --argstr dir <config dir>, --argstr pkgTree <JSON>, --argstr libNames <JSON>.
# pkgTree/libNames are the `pkgs.a.b` / `lib.x` names found in agent.nix's text:
# Nix attribute sets cannot answer "any attribute", so the stubs are built from them.
# Everything outside `hyperhive` stays an unforced thunk, so agent.nix may use
# pkgs and lib freely elsewhere (e.g. `with pkgs; [ git ]`).
{ dir, pkgTree, libNames }:
let
  inherit (builtins) isAttrs isList isFunction isString mapAttrs filter attrNames listToAttrs
    functionArgs fromJSON concatMap foldl' elem length head;

  stubPath = name: "/nix/store/00000000000000000000000000000000-hyperhive-stub-" + name;
  mkPkg = name: children: {
    type = "derivation";
    inherit name;
    pname = name;
    version = "0";
    outPath = stubPath name;
    drvPath = stubPath (name + ".drv");
    outputs = [ "out" ];
    meta = { };
    # pkgs.writeShellScript "n" "text" and friends: calling a stub gives the stub back.
    __functor = self: _: self;
    override = _: mkPkg name children;
    overrideAttrs = _: mkPkg name children;
  } // children;
  buildPkgs = prefix: tree: mapAttrs (n: sub: mkPkg (prefix + n) (buildPkgs (prefix + n + ".") sub)) tree;

  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  mkOption = attrs: attrs // { _type = "option"; };
  anyType = { _type = "option-type"; name = "stub"; };
  typeFn = _: anyType;
  removeSuffix = suffix: s:
    let ls = builtins.stringLength s; lx = builtins.stringLength suffix; in
    if lx <= ls && builtins.substring (ls - lx) lx s == suffix then builtins.substring 0 (ls - lx) s else s;
  recursiveUpdate = lhs: rhs:
    lhs // mapAttrs (n: v: if isAttrs v && lhs ? ${n} && isAttrs lhs.${n} then recursiveUpdate lhs.${n} v else v) rhs;

  libBase = rec {
    inherit mkOverride mkOrder mkOption recursiveUpdate removeSuffix;
    mkDefault = mkOverride 1000;
    mkOptionDefault = mkOverride 1500;
    mkForce = mkOverride 50;
    mkVMOverride = mkOverride 10;
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkBefore = mkOrder 500;
    mkAfter = mkOrder 1500;
    mkEnableOption = name: mkOption { type = anyType; default = false; description = name; };
    mkPackageOption = _: name: _: mkOption { type = anyType; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    literalMD = text: { _type = "literalMD"; inherit text; };
    mdDoc = s: s;
    types = {
      str = anyType; bool = anyType; int = anyType; path = anyType; package = anyType; attrs = anyType;
      anything = anyType; lines = anyType; port = anyType; unspecified = anyType; raw = anyType;
      float = anyType; number = anyType; nonEmptyStr = anyType; singleLineStr = anyType; envVar = anyType;
      listOf = typeFn; attrsOf = typeFn; nullOr = typeFn; lazyAttrsOf = typeFn; uniq = typeFn;
      submodule = typeFn; enum = typeFn; either = _: typeFn; oneOf = typeFn; coercedTo = _: _: typeFn;
      strMatching = typeFn; separatedString = typeFn; functionTo = typeFn; ints = { between = _: typeFn; positive = anyType; unsigned = anyType; };
    };
    id = x: x;
    const = x: _: x;
    optional = c: x: if c then [ x ] else [ ];
    optionals = c: xs: if c then xs else [ ];
    optionalAttrs = c: as: if c then as else { };
    optionalString = c: s: if c then s else "";
    concatStringsSep = builtins.concatStringsSep;
    concatMapStringsSep = sep: f: xs: builtins.concatStringsSep sep (map f xs);
    concatStrings = builtins.concatStringsSep "";
    concatMap = builtins.concatMap;
    concatLists = builtins.concatLists;
    flatten = x: if isList x then concatMap flatten x else [ x ];
    unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
    mapAttrs = builtins.mapAttrs;
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: listToAttrs (map (n: f n set.${n}) (attrNames set));
    mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
    filterAttrs = pred: set: listToAttrs (concatMap (n: let v = set.${n}; in if pred n v then [ { name = n; value = v; } ] else [ ]) (attrNames set));
    genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
    attrNames = builtins.attrNames;
    attrValues = builtins.attrValues;
    hasAttr = builtins.hasAttr;
    getAttr = builtins.getAttr;
    attrByPath = path: default: set:
      if path == [ ] then set
      else if isAttrs set && set ? ${head path} then attrByPath (builtins.tail path) default set.${head path}
      else default;
    elem = builtins.elem;
    filter = builtins.filter;
    foldl' = builtins.foldl';
    foldl = builtins.foldl';
    foldr = op: nul: list: if list == [ ] then nul else op (head list) (foldr op nul (builtins.tail list));
    length = builtins.length;
    head = builtins.head;
    tail = builtins.tail;
    toUpper = s: builtins.replaceStrings
      [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ]
      [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ] s;
    hasPrefix = p: s: builtins.substring 0 (builtins.stringLength p) s == p;
    hasSuffix = p: s: removeSuffix p s != s || p == "";
    splitString = sep: s: filter isString (builtins.split (escapeRegex sep) s);
    escapeRegex = s: builtins.replaceStrings [ "\\" "." "*" "+" "?" "(" ")" "[" "]" "{" "}" "|" "^" "$" ]
      [ "\\\\" "\\." "\\*" "\\+" "\\?" "\\(" "\\)" "\\[" "\\]" "\\{" "\\}" "\\|" "\\^" "\\$" ] s;
    escapeShellArg = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
    fileContents = file: removeSuffix "\n" (builtins.readFile file);
    importJSON = file: fromJSON (builtins.readFile file);
    versionAtLeast = a: b: builtins.compareVersions a b >= 0;
    versionOlder = a: b: builtins.compareVersions a b < 0;
    isString = builtins.isString;
    isAttrs = builtins.isAttrs;
    isList = builtins.isList;
    isBool = builtins.isBool;
    toList = x: if isList x then x else [ x ];
    trivial = libBase; strings = libBase; lists = libBase; attrsets = libBase; options = libBase; modules = libBase;
  };
  libMissing = listToAttrs (map (n: {
    name = n;
    value = throw "lib.${n} is not available to hyperhive's surface evaluator (stub lib, no nixpkgs)";
  }) (filter (n: !(libBase ? ${n})) (fromJSON libNames)));
  lib = libBase // libMissing;

  pkgs = buildPkgs "" (fromJSON pkgTree) // { inherit lib; system = "x86_64-linux"; };

  removed = { _hyperhiveRemoved = true; };
  isRemoved = v: isAttrs v && v ? _hyperhiveRemoved;
  mergeValues = vs:
    let kept = filter (v: !isRemoved v) vs; in
    if kept == [ ] then removed
    else if foldl' (ok: v: ok && isAttrs v) true kept then
      let names = attrNames (foldl' (acc: v: acc // v) { } kept); in
      listToAttrs (concatMap (n:
        let m = mergeValues (map (v: v.${n}) (filter (v: v ? ${n}) kept)); in
        if isRemoved m then [ ] else [ { name = n; value = m; } ]) names)
    else if foldl' (ok: v: ok && isList v) true kept then concatMap (x: x) kept
    # Scalars defined twice: the last definition wins (there is no priority system here).
    else builtins.elemAt kept (length kept - 1);
  # Deep resolution of the module-system markers, for the hyperhive value only.
  resolve = v:
    let t = if isAttrs v then v._type or null else null; in
    if isAttrs v && v ? outPath then toString v.outPath
    else if t == "override" || t == "order" then resolve v.content
    else if t == "if" then (if v.condition then resolve v.content else removed)
    else if t == "merge" then mergeValues (map resolve v.contents)
    else if isAttrs v then
      listToAttrs (concatMap (n: let r = resolve v.${n}; in if isRemoved r then [ ] else [ { name = n; value = r; } ]) (attrNames v))
    else if isList v then filter (x: !isRemoved x) (map resolve v)
    else v;

  raw = import (/. + dir + "/agent.nix");
  argsAll = {
    inherit lib pkgs config;
    options = { };
    modulesPath = "/hyperhive-stub/modules";
    specialArgs = { };
  };
  formals = if isFunction raw then functionArgs raw else { };
  callArgs =
    if formals == { } then argsAll
    else listToAttrs (concatMap (n:
      if argsAll ? ${n} then [ { name = n; value = argsAll.${n}; } ]
      else if formals.${n} then [ ]
      else [ { name = n; value = throw "agent.nix asks for the module argument '${n}', which the surface evaluator does not provide"; } ]
    ) (attrNames formals));
  module = if isFunction raw then raw callArgs else raw;
  isFull = module ? config || module ? options;
  cfgSet = if isFull then module.config or { } else module;
  definitions = c:
    let t = if isAttrs c then c._type or null else null; in
    if t == "override" || t == "order" then definitions c.content
    else if t == "if" then (if c.condition then definitions c.content else [ ])
    else if t == "merge" then concatMap definitions c.contents
    else if isAttrs c && c ? hyperhive then [ c.hyperhive ]
    else [ ];
  defs = definitions cfgSet;
  optionDefault = (module.options or { }).hyperhive.default or null;
  found = defs != [ ] || optionDefault != null;
  final =
    if defs != [ ] then resolve { _type = "merge"; contents = defs; }
    else if optionDefault != null then resolve optionDefault
    else { };
  # `config` as modules see it: their own settings (lazily) with the resolved hyperhive.
  config = (if isAttrs cfgSet && !(cfgSet ? _type) then cfgSet else { }) // { hyperhive = final; };
in
{
  inherit found;
  value = if isRemoved final then { } else final;
  imports = (module.imports or [ ]) != [ ];
}

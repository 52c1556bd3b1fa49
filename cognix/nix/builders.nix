# The builder scripts one derivation runs, as a store folder holding only the files named: a
# change to another builder (the OCI writer, say) must not change, and so rebuild, every wheel.
names:
builtins.path {
  name = "cognix-builders";
  path = ./builders;
  filter = path: type: builtins.elem (baseNameOf path) names;
}

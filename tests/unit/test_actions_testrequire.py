"""How a generated JavaScript/TypeScript test file binds the module under test, and calls
a method (qwen_lsp/actions/testrequire.py)."""

from __future__ import annotations

from qwen_lsp.actions.testrequire import binding, method_guidance, module_exports


def test_commonjs_exports_are_read() -> None:
    one = "class Version {}\nmodule.exports = Version\n"
    assert module_exports("javascript", one).whole == "Version"
    assert binding("javascript", one, ["Version"]) == "Version"
    listed = "function a () {}\nconst b = 1\nmodule.exports = { a, c: b, 'd': 2 }\nexports.e = 3\n"
    found = module_exports("javascript", listed)
    assert found.whole is None and found.named == {"a", "c", "d", "e"}
    assert binding("javascript", listed, ["a"]) == "{ a }"
    # A factory as the module, the class by name beside it (node-gyp): by name.
    factory = "class Gyp {}\nmodule.exports = () => new Gyp()\nmodule.exports.Gyp = Gyp\n"
    assert binding("javascript", factory, ["Gyp"]) == "{ Gyp }"
    # Nothing exported that is known: as the names (the runner's error says what is wrong).
    assert binding("javascript", "function f () {}\n", ["f", "g"]) == "{ f, g }"
    # Only top-level statements count.
    inner = "function f () {\n  module.exports = f\n}\n"
    assert module_exports("javascript", inner).whole is None


def test_es_module_exports_are_read() -> None:
    text = (
        "export default class Store {}\nexport function f() {}\n"
        "export const x = 1, y = 2;\nconst q = 3;\nexport { q as r };\n"
    )
    found = module_exports("typescript", text)
    assert found.whole == "Store" and found.named == {"f", "x", "y", "r"}
    assert binding("typescript", text, ["Store"]) == "Store"
    assert binding("typescript", text, ["f", "x"]) == "{ f, x }"
    assert module_exports("typescript", "function g() {}\nexport default g;\n").whole == "g"


def test_how_a_method_is_called() -> None:
    text = "class Box {\n  constructor (n) { this.n = n }\n}\n"
    instance = method_guidance(text, "  size () {\n    return 1\n  }", "size", "Box")
    assert "`const obj = new Box(...)`" in instance and "`obj.size(...)`" in instance
    static = method_guidance(text, "  static of (n) {}", "of", "Box")
    assert "`Box.of(...)`" in static and "new Box" not in static
    getter = method_guidance(text, "  get size () {}", "size", "Box")
    assert "read or set `obj.size`" in getter
    assert "constructor of `Box`" in method_guidance(
        text, "  constructor (n) {}", "constructor", "Box"
    )
    # An object literal's method, a function: called as they are.
    assert method_guidance("const api = {\n  f () {}\n}\n", "  f () {}", "f", "api") == ""
    assert method_guidance(text, "function f () {}", "f", "f") == ""

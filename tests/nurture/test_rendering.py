"""Message templates render only whitelisted variables; anything else is a named problem."""

from nurture import rendering


def test_variables_render_and_nothing_else_is_syntax():
    text = "Halo {{ first_name }} dari {{company}}: 100% {x} {{ unsubscribe_url }}"
    assert rendering.problems(text) == []
    assert rendering.render(text, {"first_name": "Rina", "company": "PT A", "unsubscribe_url": "U"}) == \
        "Halo Rina dari PT A: 100% {x} U"


def test_unknown_variables_tags_and_stray_braces_are_problems():
    codes = [(p.code, dict(p.params)) for p in rendering.problems(
        "{{ settings.SECRET_KEY }} {{ password }} {% load x %} {{ first_name")]
    names = {p["name"] for code, p in codes if code == "unknown_variable"}
    assert names == {"password"}
    assert {code for code, _ in codes} == {"unknown_variable", "tag", "malformed"}


def test_a_value_that_looks_like_a_template_is_not_rendered_again():
    assert rendering.render("{{ company }}", {"company": "{{ unsubscribe_url }}"}) == "{{ unsubscribe_url }}"


def test_first_name():
    assert rendering.first_name("  Rina  Wulandari ") == "Rina" and rendering.first_name("") == ""

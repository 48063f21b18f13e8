"""Every string a person reads goes through gettext: the product's pages rendered under a pseudo-locale, in which
every translated string comes out as ⟪…⟫, show no word outside those marks but the data the test put there.

And the shipped catalogs: German, French, Spanish and Arabic (right to left) compile (`msgfmt --check` runs in
`make lint`), and translate the product's pages.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from configurations import services
from configurations.models import ConfigurationHistory, ConfigurationTemplate, SystemConfiguration
from tests.factories import MetadataFactory, editor_of

pytestmark = pytest.mark.django_db
PSEUDO = "x-pseudo"
OPEN, CLOSE = "⟪", "⟫"
CONTEXT = "\x04"


class PseudoTranslation(trans_real.DjangoTranslation):
    """A catalog that translates everything it is asked into ⟪the same words⟫."""

    def __init__(self) -> None:
        super().__init__("en")
        self._language = PSEUDO

    def gettext(self, message):
        if not message:
            return message
        return f"{OPEN}{message.split(CONTEXT)[-1]}{CLOSE}"  # pgettext asks for "context\x04message"

    def ngettext(self, singular, plural, number):
        return self.gettext(singular if number == 1 else plural)

    def pgettext(self, context, message):
        return self.gettext(message)

    def npgettext(self, context, singular, plural, number):
        return self.ngettext(singular, plural, number)


class TextOf(HTMLParser):
    """The words a person reads on a page: text, and the attributes a browser shows or speaks."""

    SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
    SKIPPED = {"script", "style", "code", "pre", "textarea", "option", "svg"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1
        attributes = dict(attrs)
        for name in self.SHOWN_ATTRIBUTES & set(attributes):
            self.texts.append(attributes[name] or "")
        if tag == "input" and attributes.get("type") in ("submit", "button"):
            self.texts.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.texts.append(data)


def untranslated(html: str, data: set[str]) -> list[str]:
    """The words of the page outside ⟪…⟫ that are not the test's own data (a translated string may hold markup,
    so the marks are matched over the page's whole text, innermost first)."""
    parser = TextOf()
    parser.feed(html)
    text = "\n".join(parser.texts)
    inner = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
    while inner.search(text):
        text = inner.sub(" ", text)
    found = []
    for line in text.splitlines():
        words = [w for w in re.findall(r"[^\W\d_]{3,}", line) if w.casefold() not in data]
        if words:
            found.append(" ".join(line.split())[:120])
    return found


def data_words() -> set[str]:
    """Words the product shows as data, never through gettext: the metadata's and templates' own texts (names,
    groups, descriptions, help, instructions), keys and categories."""
    from configurations.models import ConfigurationMetadata

    texts = []
    for meta in ConfigurationMetadata.objects.all():
        texts += [meta.category, meta.config_key, meta.display_name, meta.description or "", meta.help_text or "",
                  meta.group_name or ""]  # fmt: skip
    for template in ConfigurationTemplate.objects.all():
        data = template.template_data
        texts += [template.description or "", *data.get("instructions", []), *data.get("configs", {})]
        texts += [v.get("description", "") for v in data.get("variables", [])]
    return {w.casefold() for text in texts for w in re.findall(r"[^\W\d_]{3,}", text)} | DATA


# Data the pages show that is not the product's words: names the test made, environments and keys, Django's own
# data (the user's name), and words that are names, not prose (the product's name in a URL, a provider's name).
DATA = {
    "smtp", "host", "port", "auth", "pass", "auth_pass", "gmail", "example", "com", "mail", "sendgrid", "mailtrap",
    "development", "staging", "production", "test", "root", "alice", "bob", "pseudo", "configurations", "admin",
    "string", "number", "boolean", "json", "amazon", "ses", "mailgun", "postmark", "office", "brevo", "api",
    "feature", "beta", "relay", "move", "utc", "smtp_timeout", "timeout",
}


@pytest.fixture
def pseudo(settings):
    """Pages rendered with the pseudo catalog active (the locale middleware would pick a real language)."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "django.middleware.locale.LocaleMiddleware"]
    trans_real._translations[PSEUDO] = PseudoTranslation()
    with translation.override(PSEUDO):
        yield
    trans_real._translations.pop(PSEUDO, None)


@pytest.fixture
def world(admin_user):
    services.set_value(category="smtp", key="host", environment="production", value="relay.example.com")
    services.set_value(category="smtp", key="port", environment="production", value="587")
    services.set_value(category="smtp", key="auth_pass", environment="production", value="pseudo-secret-1")
    services.set_value(category="smtp", key="port", environment="staging", value="2525")
    MetadataFactory(category="feature", config_key="beta", input_type="checkbox", default_value="false")
    row = SystemConfiguration.objects.get(category="smtp", config_key="port", environment="production")
    services.set_value(category="smtp", key="port", environment="production", value="465")
    entry = ConfigurationHistory.objects.filter(config_id=row.pk).order_by("id").first()
    services.set_policy("staging", approvals=1, actor=admin_user)
    author = editor_of("staging", username="alice")
    opened = services.open_request("staging", [services.Change("smtp", "port", "staging", "2526")], title="move",
                                   actor=author)  # fmt: skip
    return {"row": row, "entry": entry, "request": opened.request}


def product_pages(world) -> list[str]:
    return [
        reverse("admin:configurations_category_overview"),
        reverse("admin:configurations_category_edit", args=["smtp", "production"]),
        reverse("admin:configurations_category_edit", args=["smtp", "staging"]),
        reverse("admin:configurations_category_edit", args=["feature", "development"]),
        reverse("admin:configurations_category_compare", args=["smtp"]) + "?left=staging&right=production",
        reverse("admin:configurations_history") + f"?config={world['row'].pk}",
        reverse("admin:configurations_history_rollback", args=[world["entry"].pk]),
        reverse("admin:configurations_changerequest_change", args=[world["request"].pk]),
    ]


def test_the_products_pages_say_nothing_that_did_not_go_through_gettext(admin_client, world, pseudo):
    data = data_words()
    found = {}
    for page in product_pages(world):
        response = admin_client.get(page)
        assert response.status_code == 200, page
        found[page] = untranslated(response.content.decode(), data)
    gmail = ConfigurationTemplate.objects.get(provider_name="gmail")
    url = reverse("admin:configurations_configurationtemplate_changelist")
    common = {"action": "apply_to_environment", ACTION_CHECKBOX_NAME: [gmail.pk]}
    found["template form"] = untranslated(admin_client.post(url, {**common, "index": "0"}).content.decode(), data)
    variables = {"var__EMAIL_USER": "alice@gmail.com", "var__EMAIL_PASS": "abcd efgh ijkl mnop"}
    preview = admin_client.post(url, {**common, "post": "preview", "environment": "production", "reason": "r",
                                      **variables})  # fmt: skip
    found["template preview"] = untranslated(preview.content.decode(), data)
    report = [f"{page}: {text}" for page, texts in found.items() for text in texts]
    assert not report, "\n".join(report)


def test_the_pseudo_check_can_fail():
    assert untranslated("<p>⟪Saved⟫ smtp</p><p>Not marked</p>", DATA) == ["Not marked"]
    assert untranslated("<p>⟪Yes, change <strong>production</strong> now⟫</p>", DATA) == []


@pytest.mark.parametrize(
    ("language", "words", "direction"),
    [
        ("de", ["Nach Kategorie und Umgebung bearbeiten", "Schlüssel hinzufügen", "Grund der Änderung"], "ltr"),
        ("fr", ["Ajouter une clé", "Raison du changement", "comparer les environnements"], "ltr"),
        ("es", ["Añadir una clave", "Motivo del cambio", "comparar entornos"], "ltr"),
        ("ar", ["أضف مفتاحًا", "سبب التغيير", "قارن البيئات"], "rtl"),
    ],
)
def test_the_admin_speaks_the_browsers_language(admin_client, world, language, words, direction):
    url = reverse("admin:configurations_category_edit", args=["smtp", "production"])
    html = admin_client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'lang="{language}" dir="{direction}"' in html
    for word in words:
        assert word in html
    assert "Add a key" not in html


def test_every_catalog_translates_every_string_of_the_admin_pages():
    """No empty translation in the shipped catalogs for the admin pages the product adds (a new string gets its four
    translations). Strings only commands print or only the API answers are marked too; untranslated, they read in
    English (docs/admin.md, Languages)."""
    from pathlib import Path

    elsewhere = ("configurations/management/", "configurations/api/", "configurations/middleware.py")
    for po in sorted((Path(__file__).resolve().parents[1] / "configurations" / "locale").glob("*/LC_MESSAGES/*.po")):
        text = po.read_text(encoding="utf-8")
        assert "#, fuzzy" not in text, f"{po}: a fuzzy (guessed) translation"
        empty = []
        for entry in text.split("\n\n")[1:]:
            places = re.findall(r"^#: (.*)$", entry, re.M)
            where = " ".join(places).split()
            untranslated = re.search(r'^msgstr(\[\d\])? ""$', entry, re.M) and not re.search(
                r'^msgstr(\[\d\])? ""\n"', entry, re.M)
            if untranslated and not all(place.startswith(elsewhere) for place in where):
                empty.append(entry.splitlines()[-1])
        assert not empty, f"{po}: {empty[:3]}"

"""Free-text extraction: defanged reports, false positives, HTML, never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from steppe.ingest.intel import extract_html, extract_text, refang
from steppe.intel.observables import ObservableType

REPORT = """\
Threat report: Operation Steppe Wind (TLP:GREEN)
Tooling: loader v2.3.1.4, build 10.0.19041.1; version 1.2.3.4 of the packer.
The actor mailed report.pdf and invoice.docx.exe from bad-actor[at]evil-mail[.]com.
C2: hxxp://malicious[.]example[.]com/gate.php and hxxps://198.51.100[.]7:8443/api
Staging: fxp://files(.)badftp(dot)net/drop, backup on evil{.}update-cdn[dot]org and 203.0.113[.]45
IPv6 2001:db8::dead:beef was seen too.
MD5 d41d8cd98f00b204e9800998ecf8427e
SHA256 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855.
sha1: da39a3ee5e6b4b0d3255bfef95601890afd80709
Exploits CVE-2021-44228 from AS64500 in 192.0.2.0/24; lure domain login-microsoft[.]online
Python's os.path.join is not a domain; neither are config.yaml, setup.py nor readme.md.
Persistence via www[.]example[.]co[.]uk[:]443 and mirror[.]setup[.]py.
"""


def _found(text: str) -> dict[tuple[str, str], int]:
    return {(e.type.value, e.value): e.line or 0 for e in extract_text(text, "report.txt")}


def test_defanged_report() -> None:
    found = _found(REPORT)
    assert found == {
        ("email", "bad-actor@evil-mail.com"): 3,
        ("url", "http://malicious.example.com/gate.php"): 4,
        ("url", "https://198.51.100.7:8443/api"): 4,
        ("url", "ftp://files.badftp.net/drop"): 5,
        ("domain", "evil.update-cdn.org"): 5,
        ("ipv4", "203.0.113.45"): 5,
        ("ipv6", "2001:db8::dead:beef"): 6,
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"): 7,
        ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"): 8,
        ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"): 9,
        ("cve", "CVE-2021-44228"): 10,
        ("asn", "AS64500"): 10,
        ("cidr", "192.0.2.0/24"): 10,
        ("domain", "login-microsoft.online"): 10,
        ("domain", "www.example.co.uk"): 12,
        ("domain", "mirror.setup.py"): 12,
    }


def test_no_false_positives_from_files_and_versions() -> None:
    values = {v for _, v in _found(REPORT)}
    for noise in (
        "report.pdf",
        "invoice.docx.exe",
        "config.yaml",
        "setup.py",
        "readme.md",
        "os.path.join",
        "2.3.1.4",
        "1.2.3.4",
        "10.0.19041.1",
        "evil-mail.com",  # only as part of the email address
        "malicious.example.com",  # only as part of the URL
    ):
        assert noise not in values


def test_each_value_once_with_its_first_line() -> None:
    text = "nothing here\nevil-cdn[.]net\n\nagain evil-cdn.net and EVIL-CDN.NET\n"
    assert [(e.line, e.type, e.value) for e in extract_text(text, "t")] == [
        (2, ObservableType.DOMAIN, "evil-cdn.net")
    ]


def test_a_vendor_advisory() -> None:
    advisory = """\
Summary
We observed exploitation of CVE-2024-3400 (PAN-OS) since 2024-04-10.
Indicators of compromise
- 144[.]172[.]79[.]92 (scanning)
- hxxp://nhdata.s3-us-west-2.amazonaws[.]com/update.sh
- update[.]sh is the payload name; also see https://security.paloaltonetworks.com/CVE-2024-3400
- 3de2a4392b8715bad070b2ae12243f166ead37830f7c6d24e778985927f9caac
Contact: soc@cert.example.org. Version 11.1.2 fixes it.
"""
    found = _found(advisory)
    assert found[("cve", "CVE-2024-3400")] == 2
    assert found[("ipv4", "144.172.79.92")] == 4
    assert found[("url", "http://nhdata.s3-us-west-2.amazonaws.com/update.sh")] == 5
    assert found[("domain", "update.sh")] == 6  # defanged: the author meant a domain
    assert found[("url", "https://security.paloaltonetworks.com/CVE-2024-3400")] == 6
    assert found[("email", "soc@cert.example.org")] == 8
    assert ("sha256", "3de2a4392b8715bad070b2ae12243f166ead37830f7c6d24e778985927f9caac") in found
    assert not any(v.startswith("11.1") for _, v in found)


def test_html_visible_text_only() -> None:
    page = (
        "<html><head><title>evil-title.com</title><style>a{}</style></head>\n"
        "<body><p>C2 server:</p>\n"
        "<p>hxxp://bad-cdn[.]net/x&amp;y</p><script>var s = '198.51.100.9';</script>\n"
        '<a href="https://vendor.com/blog">read more</a> <code>203.0.113.5</code></body></html>'
    )
    found = {(e.line, e.value) for e in extract_html(page, "post.html")}
    assert found == {(3, "http://bad-cdn.net/x&y"), (4, "203.0.113.5")}


def test_refang_forms() -> None:
    assert refang("hxxp://a[.]b") == "http://a.b"
    assert refang("HXXPS://a(.)b") == "https://a.b"
    assert refang("hxxp[:]//a{.}b") == "http://a.b"
    assert refang("fxp://a[dot]b") == "ftp://a.b"
    assert refang("a (dot) b [.] c") == "a.b.c"
    assert refang("user[at]mail[.]com") == "user@mail.com"
    assert refang("10[.]0[.]0[.]1[:]8080") == "10.0.0.1:8080"
    assert refang("plain text") == "plain text"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    for entry in extract_text(text, "fuzz") + extract_html(text, "fuzz"):
        assert entry.line is not None and entry.line >= 1


def test_an_html_document_passed_as_text_is_read_as_html() -> None:
    page = "<!DOCTYPE html>\n<html><body>\n<script>x='198.51.100.1'</script><p>evil-cdn[.]net</p>"
    assert [(e.line, e.value) for e in extract_text(page, "post")] == [(3, "evil-cdn.net")]

"""Links as a text message carries them: short, the page a parent needs, never made up."""
from __future__ import annotations

from bot.channels.links import clean, display, short_link, urls_in


def test_scheme_tracking_tags_fragment_and_trailing_slash_go() -> None:
    """A link loses https://, utm_ and other click tags, the #fragment and a trailing slash; nothing else."""
    assert short_link("https://www.example.gov.uk/send/?utm_source=news&fbclid=abc#top") == "www.example.gov.uk/send"
    assert short_link("http://example.org.uk/Help/Page") == "example.org.uk/Help/Page"


def test_a_link_that_needs_its_query_is_not_sent_bare() -> None:
    """A page that depends on its query string is not printed cut: a shorter named page of the site, or nothing."""
    page = "http://councillors.example.gov.uk/mgAi.aspx?ID=65067"
    assert clean(page) is None and short_link(page) is None
    assert short_link(page, ["https://councillors.example.gov.uk/"]) == "councillors.example.gov.uk"


def test_a_long_path_gives_way_only_to_a_much_shorter_page_the_entry_names() -> None:
    """A page above it on the same site, named by the entry and at most half as long, replaces a long link;
    a page of another site, a page that is not above it, or one barely shorter does not."""
    long = "https://www.samaritans.org/how-we-can-help/contact-samaritan/talk-to-us-on-the-phone/"
    assert short_link(long, ["https://www.samaritans.org"]) == "www.samaritans.org"
    assert short_link(long, ["https://www.other.org", "https://www.samaritans.org/about"]) == display(long)
    zone = "https://www.example.gov.uk/local-offer-for-send/neurodivergence"
    assert short_link(zone, ["https://www.example.gov.uk/local-offer-for-send/"]) == display(zone)


def test_urls_are_read_out_of_source_lines() -> None:
    """Sources are free text; the addresses in them are found without the punctuation after them."""
    sources = ["FACTS.md P1: https://www.example.gov.uk/a ; S2", "Act s37 (https://legislation.gov.uk/x)."]
    assert urls_in(sources) == ["https://www.example.gov.uk/a", "https://legislation.gov.uk/x"]

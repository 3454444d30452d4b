"""Fix steps name the softphone by the site the policy gives, instead of an example."""

from readyfloor_agent.checks import fix_for


def test_steps_name_the_policy_s_softphone_site() -> None:
    fix = fix_for("chrome.mic.site", "windows")
    assert any("Salesforce or HubSpot" in step for step in fix.steps)
    named = fix.naming(["https://acme.my.salesforce.com"])
    assert any("the softphone page (acme.my.salesforce.com)" in step for step in named.steps)
    assert not any("Salesforce or HubSpot" in step for step in named.steps)
    assert named.it_note == fix.it_note


def test_several_sites_are_all_named() -> None:
    named = fix_for("chrome.mic.site", "macos").naming(["https://acme.my.salesforce.com", "https://app.hubspot.com"])
    assert any("(acme.my.salesforce.com or app.hubspot.com)" in step for step in named.steps)


def test_without_a_site_the_steps_are_unchanged() -> None:
    fix = fix_for("chrome.mic.site", "linux")
    assert fix.naming([]) == fix
    assert fix.naming(["not a url"]) == fix

"""Brand fit: the right brands rank the right moments, for readable reasons."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendar_app.fit import Profile, normalise, score
from calendar_app.fit_records import refresh_for_brand
from tests import factories as f

COSMETICS = Profile(
    themes=("beauty", "fashion", "skincare", "self-care"),
    values=("inclusivity", "sustainability"),
    audience=("women", "18-34", "urban"),
    avoid=("violence",),
)
CAR_MAKER = Profile(
    themes=("mobility", "outdoors", "rural", "family", "automotive"),
    values=("reliability", "sustainability"),
    audience=("families", "farmers", "35-54"),
)
SNACKS = Profile(
    themes=("snacks", "sport", "entertainment"), values=("fun",), audience=("young adults", "men")
)

SUPER_BOWL = {
    "themes": ["american football", "sport", "advertising"],
    "audience": ["men", "families", "18-49"],
}
FASHION_WEEK = {
    "themes": ["fashion", "luxury", "design"],
    "audience": ["women", "18-34", "influencers"],
}
AGRI_SHOW = {
    "themes": ["agriculture", "rural", "food", "outdoors"],
    "audience": ["farmers", "families"],
}


def test_cosmetics_brand_prefers_fashion_week_to_the_super_bowl() -> None:
    fashion = score(COSMETICS, **FASHION_WEEK)
    super_bowl = score(COSMETICS, **SUPER_BOWL)
    assert fashion.score > super_bowl.score + 40
    assert super_bowl.score < 20
    assert any("fashion" in reason for reason in fashion.reasons)


def test_car_maker_fits_the_agricultural_show_for_the_right_reasons() -> None:
    result = score(CAR_MAKER, **AGRI_SHOW)
    assert result.score >= 60
    text = " ".join(result.reasons)
    assert "rural" in text and "outdoors" in text and "farmers" in text


def test_snack_brand_fits_the_super_bowl() -> None:
    assert score(SNACKS, **SUPER_BOWL).score > score(SNACKS, **FASHION_WEEK).score


def test_avoided_theme_costs_points_and_says_so() -> None:
    clean = score(COSMETICS, themes=["fashion"], audience=["women"])
    touchy = score(COSMETICS, themes=["fashion", "violence"], audience=["women"])
    assert touchy.score < clean.score
    assert any("avoids: violence" in reason for reason in touchy.reasons)


def test_empty_profile_scores_zero_with_a_reason() -> None:
    result = score(Profile(), **SUPER_BOWL)
    assert result.score == 0
    assert result.reasons


def test_normalise_folds_case_plurals_and_separators() -> None:
    assert normalise("  Cars ") == "car"
    assert normalise("self_care") == normalise("Self-Care") == "self care"
    assert normalise("glass") == "glass"


tags = st.lists(st.text(min_size=1, max_size=20), max_size=8)


@given(tags, tags, tags, tags, tags)
def test_score_is_always_in_range(themes, values, audience, event_themes, event_audience) -> None:
    profile = Profile(themes=themes, values=values, audience=audience, avoid=themes[:1])
    result = score(profile, themes=event_themes, audience=event_audience)
    assert 0 <= result.score <= 100
    assert result.reasons


@pytest.mark.django_db
def test_fits_are_stored_and_overrides_survive_a_refresh() -> None:
    brand = f.BrandFactory(
        profile={"themes": list(COSMETICS.themes), "audience": list(COSMETICS.audience)}
    )
    event = f.EventFactory(themes=FASHION_WEEK["themes"], audience=FASHION_WEEK["audience"])
    fit = brand.fits.get(event=event)
    assert fit.score > 50
    fit.override_score = 10
    fit.override_note = "Competitor sponsors it."
    fit.save()
    refresh_for_brand(brand)
    fit.refresh_from_db()
    assert fit.override_score == 10
    assert fit.effective_score == 10
    assert fit.score > 50


@pytest.mark.django_db
def test_other_workspace_events_are_never_scored_for_a_brand(other_workspace) -> None:
    brand = f.BrandFactory()
    foreign = f.EventFactory(workspace=other_workspace)
    assert not brand.fits.filter(event=foreign).exists()

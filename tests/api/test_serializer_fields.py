"""Model serializers work their fields out once per class (issue 16), and every instance still
gets its own fields: binding one (to its parent, its context) never touches another's."""

from __future__ import annotations

from calendar_app.api.serializers.content import ContentItemSerializer


def test_each_serializer_gets_its_own_copy_of_the_fields_worked_out_once() -> None:
    first, second = ContentItemSerializer(), ContentItemSerializer(context={"request": None})
    assert list(first.fields) == list(second.fields) == ContentItemSerializer.Meta.fields
    assert "_kairos_fields" in ContentItemSerializer.__dict__
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    assert first.fields["channels"].child_relation is not second.fields["channels"].child_relation
    prototype = ContentItemSerializer._kairos_fields
    assert all(getattr(field, "parent", None) is None for field in prototype.values())

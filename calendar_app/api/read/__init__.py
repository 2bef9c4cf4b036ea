"""Read paths of the hottest GETs: rows read as values and written as JSON directly.

The serializers stay the definition of each resource (the schema is generated from them, and
writes go through them); a read path here produces exactly what its serializer would, and a
test holds the two equal.
"""

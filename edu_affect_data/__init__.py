"""edu-affect-data: a multimodal learner-emotion dataset built from IEMOCAP and CMU-MOSEI."""

__version__ = "0.1.0"

#: The four learner emotions, in the order used for integer labels everywhere.
CLASSES: tuple[str, ...] = ("Confused", "Curious", "Bored", "Frustrated")

"""edu-affect-data: a multimodal learner-emotion dataset built from IEMOCAP and CMU-MOSEI."""

__version__ = "0.1.0"

from edu_affect_data.core.vocabulary import CLASSES

__all__ = ["CLASSES", "__version__"]

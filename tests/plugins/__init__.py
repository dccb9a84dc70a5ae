"""Plugins defined outside the package, used to prove the extension points need no package edit."""

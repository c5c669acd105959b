"""The security scanners the manual runs (bundler-audit, Brakeman): their
reports read into advisories and warnings, where and how they are run."""

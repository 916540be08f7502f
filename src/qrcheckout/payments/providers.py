"""The payment providers one service runs with, by name: every row that money touched carries
its provider's name, and whatever acts on that row later asks this table for the provider."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from qrcheckout.errors import Invalid, NotConfigured
from qrcheckout.payments.provider import PaymentProvider


class Providers(Mapping[str, PaymentProvider]):
    """The configured providers, the first one the default (what a token or order is paid with
    when it names none)."""

    def __init__(self, providers: Iterable[PaymentProvider]) -> None:
        self._by_name = {provider.name: provider for provider in providers}
        if not self._by_name:
            raise ValueError("a service needs at least one payment provider")
        self.default = next(iter(self._by_name.values()))

    def __getitem__(self, name: str) -> PaymentProvider:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def chosen(self, name: str | None, field: str = "provider") -> PaymentProvider:
        """The provider a request names (None: the default), or a refusal naming ``field``."""
        if name is None:
            return self.default
        provider = self._by_name.get(name)
        if provider is None:
            configured = ", ".join(sorted(self._by_name))
            raise Invalid(
                "provider_not_configured",
                f"Payments with {name!r} are not set up here; this service takes {configured}.",
                field=field,
            )
        return provider

    def of(self, name: str) -> PaymentProvider:
        """The provider a stored row was paid through, or a refusal when this service no longer
        runs it (started since without its credentials)."""
        provider = self._by_name.get(name)
        if provider is None:
            raise NotConfigured(
                "provider_not_configured",
                f"This was paid through {name!r}, which this service is not set up for now.",
            )
        return provider

"""Show the installed networks and the plugin and distribution that provide each."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from calendar_app.plugins_runtime import get_plugins


class Command(BaseCommand):
    help = "List installed networks with their plugin, distribution, version and capabilities."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def handle(self, *args, json: bool = False, **options) -> None:
        infos = [info.to_dict() for info in get_plugins().network_info()]
        if json:
            self.stdout.write(_dumps(infos))
            return
        for info in infos:
            self.stdout.write(
                f"{info['key']:<12} {info['display_name']:<24} plugin={info['plugin']} "
                f"distribution={info.get('distribution') or '-'} {info.get('version') or ''}"
            )


def _dumps(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)

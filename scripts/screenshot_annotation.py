"""Open a task of the annotation project in the real Label Studio, in headless Chromium, and save a
screenshot (used in the README and the guidelines).

Needs Debian's `chromium` (`apt-get install chromium`) and `pip install playwright` (no browser
download: Playwright drives the system binary). The server and its admin credentials are the ones
`scripts/labelstudio.sh start` created (`.labelstudio/env`, `.labelstudio/secrets`).

    .venv/bin/python scripts/screenshot_annotation.py --project "edu-affect demo" --out docs/annotation_interface.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="Label Studio project title")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "annotation_interface.png")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium not found: apt-get install chromium")
    from label_studio_sdk import LabelStudio
    from playwright.sync_api import sync_playwright

    env = _read_env(ROOT / ".labelstudio" / "env")
    secrets = _read_env(ROOT / ".labelstudio" / "secrets")
    url = env["LABEL_STUDIO_URL"]
    client = LabelStudio(base_url=url, api_key=env["LABEL_STUDIO_API_KEY"])
    projects = [p for p in client.projects.list() if p.title == args.project]
    if not projects:
        sys.exit(f"no project titled {args.project!r} on {url}")
    project_id = projects[0].id
    task = next(iter(client.tasks.list(project=project_id)), None)
    if task is None:
        sys.exit(f"project {args.project!r} has no tasks")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(f"{url}/user/login/")
        page.fill("input[name=email]", secrets["LS_ADMIN_EMAIL"])
        page.fill("input[name=password]", secrets["LS_ADMIN_PASSWORD"])
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(f"{url}/projects/{project_id}/data?tab=0&task={task.id}")
        page.wait_for_selector("video", state="attached", timeout=60_000)
        page.wait_for_timeout(6_000)  # let the video show its first frame and the waveform render
        page.screenshot(path=str(args.out))
        browser.close()
    print(f"saved {args.out} (project {project_id}, task {task.id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

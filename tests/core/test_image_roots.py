"""A user's image roots: mapping a project's image folders to this
computer's, the missing images grouped by folder, and the root proposed
from one image located elsewhere."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from core.image_roots import ImageRoots, as_slashed, parse_root, stored_location
from core.missing_images import check_root, missing_image_folders, propose_root, slides_under
from core.store import ProjectStore
from tests.core.images import write_image


def _project_with_scans(tmp_path: Path, count: int = 6) -> tuple[Path, Path]:
    """A project whose slides lie on a "share" outside its folder, in two
    subfolders; returns the project file and the share's folder."""
    share = tmp_path / "mnt" / "lab" / "scans"
    project = tmp_path / "projects" / "p.hemalabel"
    with ProjectStore.create(project) as store:
        for i in range(count):
            image = write_image(share / f"patient{i % 2}" / f"field{i}.png", seed=i)
            store.add_slide(image, 64, 48)
    return project, share


def test_roots_map_the_longest_matching_folder_and_only_whole_components() -> None:
    roots = ImageRoots.of({"//labserver/scans": "Z:/scans", "/mnt/old": "/media/new", "/mnt/old/deep": "/deep"})
    assert roots.local("//labserver/scans/p1/a.png") == "Z:/scans/p1/a.png"
    assert roots.local("/mnt/old/p1/a.png") == "/media/new/p1/a.png"
    assert roots.local("/mnt/old/deep/a.png") == "/deep/a.png"
    assert roots.local("/mnt/older/a.png") is None  # a prefix of the text, not of the folders
    assert roots.local("/elsewhere/a.png") is None
    assert roots.with_root("/mnt/old/", "/media/other").as_dict()["/mnt/old"] == "/media/other"
    assert "/mnt/old" not in roots.without("/mnt/old").as_dict()


def test_paths_from_any_system_compare_with_forward_slashes(tmp_path: Path) -> None:
    assert as_slashed("\\\\labserver\\scans\\") == "//labserver/scans"
    assert as_slashed("Z:\\scans") == "Z:/scans"
    assert as_slashed("Z:") == "Z:/"
    assert stored_location("Z:/scans/a.png", tmp_path) == "Z:/scans/a.png"
    assert stored_location("../scans/a.png", tmp_path / "p") == as_slashed(tmp_path / "scans" / "a.png")
    assert parse_root("/mnt/old=/media/new") == ("/mnt/old", "/media/new")
    with pytest.raises(ValueError, match="OLD=NEW"):
        parse_root("/mnt/old")


def test_the_store_looks_for_images_under_the_mapped_folder_and_writes_nothing(tmp_path: Path) -> None:
    project, share = _project_with_scans(tmp_path)
    moved = tmp_path / "media" / "new"
    moved.parent.mkdir(parents=True)
    shutil.move(share, moved)
    before = sqlite3.connect(project).execute("SELECT path FROM slides ORDER BY id").fetchall()
    with ProjectStore.open(project) as store:
        assert not any(store.image_path(slide).is_file() for slide in store.slides())
        store.image_roots = ImageRoots.of({as_slashed(share): as_slashed(moved)})
        assert all(store.image_path(slide).is_file() for slide in store.slides())
        assert missing_image_folders(store) == []
    assert sqlite3.connect(project).execute("SELECT path FROM slides ORDER BY id").fetchall() == before
    with ProjectStore.open(project) as store:  # another user, or this one without the mapping
        assert not store.image_roots
        assert len(missing_image_folders(store)[0].slide_ids) == 6


def test_missing_images_are_one_group_per_missing_folder_naming_the_count(tmp_path: Path) -> None:
    project, share = _project_with_scans(tmp_path)
    own = write_image(project.parent / "images" / "own.png")
    gone = write_image(project.parent / "images" / "gone.png", seed=9)
    with ProjectStore.open(project) as store:
        store.add_slide(own, 64, 48)
        store.add_slide(gone, 64, 48)
    shutil.rmtree(share)
    gone.unlink()
    with ProjectStore.open(project) as store:
        groups = missing_image_folders(store)
    assert [len(group.slide_ids) for group in groups] == [6, 1]
    assert groups[0].message() == (
        f"Images of 6 slides are not found under {share} (the folder is missing or not mounted)"
    )
    assert groups[1].message() == (
        f"The image of 1 slide is not found under {gone.parent} (the folder is there but these files are not)"
    )


def test_an_empty_mount_point_is_named_as_such(tmp_path: Path) -> None:
    project, share = _project_with_scans(tmp_path)
    shutil.rmtree(share)
    share.mkdir()  # what an unmounted share's mount point looks like
    with ProjectStore.open(project) as store:
        (group,) = missing_image_folders(store)
    assert group.looked_in == share
    assert "the folder is empty: is the share mounted?" in group.message()


def test_a_mapped_folder_still_missing_names_both_folders(tmp_path: Path) -> None:
    project, share = _project_with_scans(tmp_path)
    with ProjectStore.open(project) as store:
        store.image_roots = ImageRoots.of({str(share): str(tmp_path / "not-mounted")})
        (group,) = missing_image_folders(store)
    assert group.stored == as_slashed(share)
    assert f"under {tmp_path / 'not-mounted'} (mapped from {as_slashed(share)})" in group.message()


def test_one_located_image_proposes_the_root_and_counts_every_slide_found_there(tmp_path: Path) -> None:
    project, share = _project_with_scans(tmp_path)
    moved = tmp_path / "media" / "new"
    moved.parent.mkdir(parents=True)
    shutil.move(share, moved)
    (moved / "patient1" / "field5.png").unlink()  # one image did not come along
    with ProjectStore.open(project) as store:
        slide = store.slides()[0]
        proposal = propose_root(store, slide, moved / "patient0" / "field0.png")
        assert proposal is not None
        assert (proposal.stored, proposal.local) == (as_slashed(share), as_slashed(moved))
        assert (proposal.found, proposal.total) == (5, 6)
        assert proposal.summary() == f"5 slides of 6 found under {as_slashed(moved)}"
        assert propose_root(store, slide, moved / "patient0" / "other-name.png") is None


def test_a_folder_the_technician_names_is_checked_before_it_is_kept(tmp_path: Path) -> None:
    project, share = _project_with_scans(tmp_path)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    with ProjectStore.open(project) as store:
        check = check_root(store, as_slashed(share), wrong)
        assert (check.found, check.total, check.worth_mapping()) == (0, 6, False)
        assert check_root(store, as_slashed(share), share).found == 6
        # The slides a mapping moves: those under the folder, whole components only.
        assert slides_under(store, as_slashed(share / "patient1")) == [2, 4, 6]
        assert slides_under(store, as_slashed(share / "patient")) == []


def test_two_shares_gone_from_one_folder_are_two_messages(tmp_path: Path) -> None:
    project, share = _project_with_scans(tmp_path, count=2)
    old = write_image(tmp_path / "mnt" / "old" / "x.png", seed=7)
    (tmp_path / "mnt" / "kept").mkdir()  # /mnt is not empty: lab and old are each gone
    with ProjectStore.open(project) as store:
        store.add_slide(old, 64, 48)
    shutil.rmtree(tmp_path / "mnt" / "lab")
    shutil.rmtree(old.parent)
    with ProjectStore.open(project) as store:
        groups = missing_image_folders(store)
    assert [(group.looked_in, len(group.slide_ids)) for group in groups] == [(share, 2), (old.parent, 1)]

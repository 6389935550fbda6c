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
        (("Setup",), "Install the tool1, see Usage."),
        (("Setup", "max_workers"), "How many workers run."),
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


def test_glossary_terms_head_their_definitions_aliases_together(tmp_path):
    """A glossary: one heading, then terms (some with aliases; one grouped with its
    definition in a `<div>`, as HTML allows) each defined in a `<dd>`. Each definition is
    a block of its own whose heading path names its term; the text after the list is back
    under the page's heading."""
    _, blocks = blocks_of(tmp_path, """<html><head><title>Glossary</title></head><body>
      <div role="main"><h1>Glossary<a class="headerlink" href="#g">¶</a></h1>
      <p>Terms used in this documentation.</p>
      <dl class="glossary">
        <dt id="term-bound">bound parameter<a class="headerlink" href="#term-bound">¶</a></dt>
        <dt id="term-bind">bind parameter<a class="headerlink" href="#term-bind">¶</a></dt>
        <dd><p>Values passed to the driver apart from the SQL string.</p>
            <p>See also <a href="#term-dbapi">DBAPI</a>.</p></dd>
        <dt id="term-eager">eager loading</dt>
        <dd><p>Loading related rows in the same query.</p></dd>
        <div><dt id="term-identity">identity map</dt><dd>A mapping of keys to objects.</dd>
        </div>
      </dl>
      <p>Missing a term? Ask.</p></div></body></html>""")
    assert blocks == [
        (("Glossary",), "Terms used in this documentation."),
        (("Glossary", "bound parameter / bind parameter"),
         "Values passed to the driver apart from the SQL string.\n\nSee also DBAPI."),
        (("Glossary", "eager loading"), "Loading related rows in the same query."),
        (("Glossary", "identity map"), "A mapping of keys to objects."),
        (("Glossary",), "Missing a term? Ask."),
    ]


def test_api_entries_head_their_docs_nested_in_their_class_field_lists_stay(tmp_path):
    """Sphinx API docs: a class's `<dl>` holds its description and its methods' `<dl>`s, the
    signature in each `<dt>`. A method's docs are headed by the class and the method; the
    field list inside them ("Parameters") stays in the method's text."""
    _, blocks = blocks_of(tmp_path, """<html><head><title>Engines</title></head><body>
      <div role="main"><section><h1>Engines</h1><section><h2>API</h2>
      <dl class="py class">
        <dt class="sig sig-object py" id="pkg.Engine"><em>class </em>
          <span class="sig-prename">pkg.</span><span class="sig-name">Engine</span>(<em>pool</em>)
          <a class="headerlink" href="#pkg.Engine">¶</a></dt>
        <dd><p>Connects a pool and a dialect.</p>
          <dl class="py method">
            <dt class="sig sig-object py" id="pkg.Engine.dispose">
              <span>dispose</span>(<em>close=True</em>)</dt>
            <dd><p>Dispose of the connection pool.</p>
              <dl class="field-list simple"><dt class="field-odd">Parameters</dt>
                <dd class="field-odd">
                  <p><strong>close</strong> – close checked-in connections.</p></dd>
              </dl>
              <p>Added in 1.4.</p></dd>
          </dl>
          <dl class="py attribute">
            <dt class="sig sig-object py" id="pkg.Engine.name"><span>name</span></dt>
            <dd><p>The dialect's name.</p></dd>
          </dl>
          <p>Engines are thread safe.</p>
        </dd>
      </dl>
      <dl class="py function"><dt id="pkg.create_engine">pkg.create_engine(<em>url</em>)</dt>
        <dd><p>Create an Engine.</p></dd></dl>
      <p>See also pools.</p></section></section></div></body></html>""")
    engine = "class pkg.Engine(pool)"
    assert blocks == [
        (("Engines", "API", engine), "Connects a pool and a dialect."),
        (("Engines", "API", engine, "dispose(close=True)"),
         "Dispose of the connection pool.\n\nParameters\n\nclose – close checked-in "
         "connections.\n\nAdded in 1.4."),
        (("Engines", "API", engine, "name"), "The dialect's name."),
        (("Engines", "API", engine), "Engines are thread safe."),
        (("Engines", "API", "pkg.create_engine(url)"), "Create an Engine."),
        (("Engines", "API"), "See also pools."),
    ]


GLOSSARY = """<html><head><title>Glossary</title></head><body><div role="main">
  <h1>Glossary</h1><dl class="glossary">
  <dt>lazy loading</dt><dt>lazy load</dt>
  <dd><p>Related rows are fetched from the database the first time the attribute that
      holds them is read, not when the object itself is fetched.</p></dd>
  <dt>identity map</dt>
  <dd><p>Each session keeps one object per primary key, so two queries for the same row
      return the very same object.</p></dd>
  <dt>isolation</dt>
  <dd><p>How much one transaction sees of the uncommitted work of others running at the
      same time.</p></dd>
  </dl></div></body></html>"""


def test_each_glossary_definition_is_a_chunk_found_by_its_term(ingestor, collection, docs):
    """Through the pipeline: one chunk per definition, its heading path naming the term
    (the text never does), and a text search for the term finds its definition first."""
    (docs / "glossary.html").write_text(GLOSSARY, encoding="utf-8")
    ingestor.ingest([docs])
    stored = sorted(collection.get(where={}, limit=None), key=lambda r: r.payload["start"])
    assert [(r.payload["heading_path"], r.payload["text"].split()[0]) for r in stored] == [
        (["Glossary", "lazy loading / lazy load"], "Related"),
        (["Glossary", "identity map"], "Each"),
        (["Glossary", "isolation"], "How"),
    ]
    for term, first in (("identity map", "Each"), ("lazy load", "Related")):
        hit = collection.search(text=term, k=1, mode="text")[0]
        assert hit.payload["text"].startswith(first)

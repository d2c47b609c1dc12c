-- The three products the store starts with.
INSERT INTO products (name, description, category, price, slogan, stock) VALUES
    ('SUSTech Hoodie', 'A warm cotton hoodie with the SUSTech logo embroidered on the chest.',
     'Apparel', 49.99, 'Wear your campus pride.', 500),
    ('SUSTech Water Bottle', 'A 600 ml insulated steel bottle that keeps drinks cold all day.',
     'Drinkware', 19.98, 'Stay hydrated, stay curious.', 500),
    ('SUSTech Notebook', 'A dotted A5 notebook with 160 pages of thick, fountain-pen-safe paper.',
     'Stationery', 9.97, 'Write down the next big idea.', 500)
ON CONFLICT (name) DO NOTHING;
